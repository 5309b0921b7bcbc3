import { RequestContext } from '@app/common/context/request-context';
import { InvoiceIssuedEvent } from '@app/contracts/invoicing.contracts';
import { PaymentSucceededEvent } from '@app/contracts/payments.contracts';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { IssueInvoiceWhenPaymentSucceeded } from '../../src/modules/invoicing/issue-invoice-when-payment-succeeded.listener';
import { createTenant } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';
import { storeSucceededPayment, yearIn } from './invoicing-helpers';

/**
 * The paid-invoice consumer claims its message, takes the number, and writes
 * the invoice, its line and the InvoiceIssued event in one statement, so a
 * redelivered message or a second one for a paid payment issues nothing more.
 */
describe('paid invoice of a card payment', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  const database = (): DataSource => t.app.get(DataSource);

  function deliver(event: PaymentSucceededEvent, messageId: string): Promise<void> {
    return t.app.get(RequestContext).runAsTenant(event.tenantId, () => t.app.get(IssueInvoiceWhenPaymentSucceeded).handle(event, messageId));
  }

  async function invoicesOf(paymentId: string): Promise<{ id: string; number: string; status: string; total: string; lines: number }[]> {
    return database().query(
      `SELECT invoice.id, invoice.number, invoice.status, invoice.total,
              (SELECT count(*)::int FROM invoice_lines line WHERE line.invoice_id = invoice.id) AS lines
         FROM invoices invoice WHERE invoice.payment_id = $1`,
      [paymentId],
    );
  }

  async function lastNumberOf(tenantId: string): Promise<number | null> {
    const rows: { last_value: string }[] = await database().query(`SELECT last_value FROM invoice_number_sequences WHERE tenant_id = $1`, [tenantId]);

    return rows.length === 0 ? null : Number(rows[0].last_value);
  }

  it('issues a numbered paid invoice with its line and event', async () => {
    const tenant = await createTenant(t);
    const event = await storeSucceededPayment(t, tenant.tenantId);

    await deliver(event, randomUUID());

    const [invoice] = await invoicesOf(event.payload.paymentId);
    expect(invoice).toMatchObject({ number: `INV-${yearIn('America/Chicago')}-00001`, status: 'paid', total: '4200', lines: 1 });
    const events: { payload: { number: string; invoiceId: string } }[] = await database().query(
      `SELECT payload FROM outbox_events WHERE tenant_id = $1 AND aggregate_id = $2 AND event_name = $3`,
      [tenant.tenantId, invoice.id, InvoiceIssuedEvent.eventName],
    );
    expect(events.map((row) => row.payload)).toEqual([expect.objectContaining({ number: invoice.number, invoiceId: invoice.id })]);
  });

  it('issues nothing for a redelivered message', async () => {
    const tenant = await createTenant(t);
    const event = await storeSucceededPayment(t, tenant.tenantId);
    const messageId = randomUUID();

    await deliver(event, messageId);
    await deliver(event, messageId);

    expect(await invoicesOf(event.payload.paymentId)).toHaveLength(1);
    expect(await lastNumberOf(tenant.tenantId)).toBe(1);
  });

  it('issues no second invoice for a paid payment', async () => {
    const tenant = await createTenant(t);
    const event = await storeSucceededPayment(t, tenant.tenantId);

    await deliver(event, randomUUID());
    await deliver(event, randomUUID());

    expect(await invoicesOf(event.payload.paymentId)).toHaveLength(1);
    expect(await lastNumberOf(tenant.tenantId)).toBe(1);
  });

  it('keeps no claim or number when the statement fails', async () => {
    const tenant = await createTenant(t);
    // No such customer, so the invoice's foreign key rejects the statement.
    const event = await storeSucceededPayment(t, tenant.tenantId, randomUUID());
    const messageId = randomUUID();

    await expect(deliver(event, messageId)).rejects.toThrow(/foreign key/);

    const claims = await database().query(`SELECT 1 FROM processed_messages WHERE message_id = $1`, [messageId]);
    expect(claims).toEqual([]);
    expect(await lastNumberOf(tenant.tenantId)).toBeNull();
    expect(await invoicesOf(event.payload.paymentId)).toEqual([]);
  });
});
