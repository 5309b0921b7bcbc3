import { CUSTOMERS, MISSING_ID, PAYMENTS, connectedB2bTenant, createCustomer } from '../invoicing/invoicing-helpers';
import { TestApp, eventually, startTestApp } from '../support/test-app';

const CARD_PAYMENT = { amount: 1500, currency: 'usd', paymentMethod: 'pm_card_visa' };

/** A payment may name only a customer of its own tenant, and its paid invoice carries that customer. */
describe('payment customer', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('accepts a customer of its tenant', async () => {
    const tenant = await connectedB2bTenant(t);
    const customer = await createCustomer(t, tenant);

    const response = await t.http().post(PAYMENTS).set(tenant.auth).send({ ...CARD_PAYMENT, customerId: customer.id });
    const invoice = await eventually(async () => {
      const payment = await t.http().get(`${PAYMENTS}/${response.body.id}`).set(tenant.auth);

      return payment.body.invoiceId ? (await t.http().get(`/api/v1/invoices/${payment.body.invoiceId}`).set(tenant.auth)).body : undefined;
    }, 30_000);

    expect(response.status).toBe(201);
    expect(invoice.customerId).toBe(customer.id);
  });

  it.each([
    ['another tenant', 'other'],
    ['no tenant', 'missing'],
  ])("rejects the customer of %s", async (_case, whose) => {
    const tenant = await connectedB2bTenant(t);
    const other = await connectedB2bTenant(t);
    const customerId = whose === 'other' ? (await createCustomer(t, other)).id : MISSING_ID;

    const response = await t.http().post(PAYMENTS).set(tenant.auth).send({ ...CARD_PAYMENT, customerId });
    const payments = await t.http().get(PAYMENTS).set(tenant.auth).expect(200);

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'customerId', message: 'is not a customer of this tenant' }]);
    expect(payments.body.data).toEqual([]);
    expect((await t.http().get(`${CUSTOMERS}/${customerId}`).set(tenant.auth)).status).toBe(404);
  });
});
