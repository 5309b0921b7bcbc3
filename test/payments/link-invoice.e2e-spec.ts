import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { PaymentsRepository } from '../../src/modules/payments/payments.repository';
import { createTenant } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TestApp, startTestApp } from '../support/test-app';

const CONSUMER = 'payments.link-invoice';

/**
 * The invoice link claims its message and sets the invoice in one statement.
 * It reports whether it claimed the message and found the payment, and its
 * caller logs a warning when it claimed but found none.
 */
describe('PaymentsRepository.claimAndLinkInvoice', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  async function invoiceOf(paymentId: string): Promise<string | null> {
    const rows: { invoice_id: string | null }[] = await t.app.get(DataSource).query(`SELECT invoice_id FROM payments WHERE id = $1`, [paymentId]);

    return rows[0].invoice_id;
  }

  async function storedPayment(): Promise<{ tenantId: string; paymentId: string }> {
    const tenant = await createTenant(t);
    await connectStripe(t, tenant.auth);
    const payment = await t.http().post('/api/v1/payments').set(tenant.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    expect(payment.status).toBe(201);

    return { tenantId: tenant.tenantId, paymentId: payment.body.id };
  }

  it('links a stored payment', async () => {
    const { tenantId, paymentId } = await storedPayment();
    const invoiceId = randomUUID();

    const result = await t.app.get(PaymentsRepository).claimAndLinkInvoice({ consumer: CONSUMER, messageId: randomUUID() }, tenantId, paymentId, invoiceId);

    expect(result).toEqual({ claimed: true, linked: true });
    expect(await invoiceOf(paymentId)).toBe(invoiceId);
  });

  it('reports an unknown payment as not linked', async () => {
    const tenant = await createTenant(t);

    const result = await t.app.get(PaymentsRepository).claimAndLinkInvoice({ consumer: CONSUMER, messageId: randomUUID() }, tenant.tenantId, randomUUID(), randomUUID());

    expect(result).toEqual({ claimed: true, linked: false });
  });

  it('changes nothing for a message already claimed', async () => {
    const { tenantId, paymentId } = await storedPayment();
    const messageId = randomUUID();
    const first = randomUUID();
    await t.app.get(PaymentsRepository).claimAndLinkInvoice({ consumer: CONSUMER, messageId }, tenantId, paymentId, first);
    await t.app.get(DataSource).query(`UPDATE payments SET invoice_id = NULL WHERE id = $1`, [paymentId]);

    const again = await t.app.get(PaymentsRepository).claimAndLinkInvoice({ consumer: CONSUMER, messageId }, tenantId, paymentId, randomUUID());

    expect(again).toEqual({ claimed: false, linked: false });
    expect(await invoiceOf(paymentId)).toBeNull();
  });

  it('keeps the invoice a payment already has', async () => {
    const { tenantId, paymentId } = await storedPayment();
    const first = randomUUID();
    await t.app.get(PaymentsRepository).claimAndLinkInvoice({ consumer: CONSUMER, messageId: randomUUID() }, tenantId, paymentId, first);

    const second = await t.app.get(PaymentsRepository).claimAndLinkInvoice({ consumer: CONSUMER, messageId: randomUUID() }, tenantId, paymentId, randomUUID());

    expect(second).toEqual({ claimed: true, linked: true });
    expect(await invoiceOf(paymentId)).toBe(first);
  });
});
