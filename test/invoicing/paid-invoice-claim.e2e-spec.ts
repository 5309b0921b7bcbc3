import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { InvoicesRepository } from '../../src/modules/invoicing/invoices.repository';
import { createTenant } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TestApp, eventually, startTestApp } from '../support/test-app';

const CONSUMER = 'invoicing.issue-paid-invoice';

/**
 * The paid-invoice consumer claims its message and looks for the payment's
 * invoice in one statement, so a second PaymentSucceeded message for a paid
 * payment issues no second invoice.
 */
describe('InvoicesRepository.claimMessageAndFindPaymentInvoice', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  function claim(messageId: string, tenantId: string, paymentId: string): Promise<{ claimed: boolean; invoiceId: string | null }> {
    return t.app
      .get(DataSource)
      .transaction((manager) => t.app.get(InvoicesRepository).claimMessageAndFindPaymentInvoice(manager, { consumer: CONSUMER, messageId }, tenantId, paymentId));
  }

  it('finds the invoice of a paid payment', async () => {
    const tenant = await createTenant(t);
    await connectStripe(t, tenant.auth);
    const payment = await t.http().post('/api/v1/payments').set(tenant.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    expect(payment.status).toBe(201);
    const paid = await eventually(async () => {
      const found = await t.http().get(`/api/v1/payments/${payment.body.id}`).set(tenant.auth);

      return found.body.invoiceId ? found.body : undefined;
    });

    const result = await claim(randomUUID(), tenant.tenantId, payment.body.id);

    expect(result).toEqual({ claimed: true, invoiceId: paid.invoiceId });
  });

  it('claims a message once', async () => {
    const tenant = await createTenant(t);
    const messageId = randomUUID();
    const paymentId = randomUUID();

    const first = await claim(messageId, tenant.tenantId, paymentId);
    const second = await claim(messageId, tenant.tenantId, paymentId);

    expect(first).toEqual({ claimed: true, invoiceId: null });
    expect(second).toEqual({ claimed: false, invoiceId: null });
  });

  it('gives the claim back when the transaction rolls back', async () => {
    const tenant = await createTenant(t);
    const messageId = randomUUID();
    const paymentId = randomUUID();

    await expect(
      t.app.get(DataSource).transaction(async (manager) => {
        await t.app.get(InvoicesRepository).claimMessageAndFindPaymentInvoice(manager, { consumer: CONSUMER, messageId }, tenant.tenantId, paymentId);
        throw new Error('numbering failed');
      }),
    ).rejects.toThrow('numbering failed');

    expect(await claim(messageId, tenant.tenantId, paymentId)).toEqual({ claimed: true, invoiceId: null });
  });
});
