import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import { PaymentsRepository } from '../../src/modules/payments/payments.repository';
import { createTenant } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TestApp, startTestApp } from '../support/test-app';

/** The invoice link reports whether it found the payment; its caller logs a warning when it did not. */
describe('PaymentsRepository.linkInvoice', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('reports a stored payment as linked', async () => {
    const tenant = await createTenant(t);
    await connectStripe(t, tenant.auth);
    const payment = await t.http().post('/api/v1/payments').set(tenant.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    expect(payment.status).toBe(201);

    const linked = await t.app.get(DataSource).transaction((manager) =>
      t.app.get(PaymentsRepository).linkInvoice(manager, tenant.tenantId, payment.body.id, randomUUID()),
    );

    expect(linked).toBe(true);
  });

  it('reports an unknown payment as not linked', async () => {
    const tenant = await createTenant(t);

    const linked = await t.app.get(DataSource).transaction((manager) =>
      t.app.get(PaymentsRepository).linkInvoice(manager, tenant.tenantId, randomUUID(), randomUUID()),
    );

    expect(linked).toBe(false);
  });
});
