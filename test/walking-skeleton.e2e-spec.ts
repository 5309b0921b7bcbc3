import request from 'supertest';
import { createOperatorAuth } from './support/factories';
import { TestApp, eventually, startTestApp } from './support/test-app';

/** Every response body this suite saw, scanned at the end for full secrets. */
const seenBodies: string[] = [];

function record(response: request.Response): request.Response {
  seenBodies.push(response.text ?? '');

  return response;
}

function chicagoYear(date = new Date()): string {
  return new Intl.DateTimeFormat('en-US', { timeZone: 'America/Chicago', year: 'numeric' }).format(date);
}

interface EmulatorAccount {
  id: string;
  test: { publishableKey: string; secretKey: string };
}

async function newStripeAccount(t: TestApp): Promise<EmulatorAccount> {
  const response = await request(t.emulator.url).post('/_emulator/accounts').expect(201);

  return response.body as EmulatorAccount;
}

describe('walking skeleton: one payment end to end', () => {
  let t: TestApp;
  let operator: { Authorization: string };
  const secretKeys: string[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    operator = await createOperatorAuth(t);
  });

  afterAll(async () => {
    await t.close();
  });

  async function onboardTenant(slug: string): Promise<{ tenantId: string; auth: { Authorization: string } }> {
    const tenant = record(await t.http().post('/api/v1/ops/tenants').set(operator).send({ slug, name: `School ${slug}` }));
    expect(tenant.status).toBe(201);
    const token = record(
      await t.http().post('/api/v1/ops/tokens').set(operator).send({ tenantId: tenant.body.id, role: 'owner', label: 'integration' }),
    );
    expect(token.status).toBe(201);

    return { tenantId: tenant.body.id, auth: { Authorization: `Bearer ${token.body.token}` } };
  }

  async function connect(auth: { Authorization: string }): Promise<EmulatorAccount> {
    const account = await newStripeAccount(t);
    secretKeys.push(account.test.secretKey);
    const connected = record(
      await t.http().post('/api/v1/settings/billing/stripe').set(auth).send({
        publishableKey: account.test.publishableKey,
        secretKey: account.test.secretKey,
      }),
    );
    expect(connected.status).toBe(201);

    return account;
  }

  it('takes a card payment through webhook, invoice and isolation', async () => {
    const suffix = Date.now().toString(36);
    const school = await onboardTenant(`school-${suffix}`);
    const account = await connect(school.auth);

    const billing = record(await t.http().get('/api/v1/settings/billing').set(school.auth));
    expect(billing.status).toBe(200);
    expect(billing.body.stripe.status).toBe('connected');
    expect(billing.body.stripe.mode).toBe('test');
    expect(billing.body.stripe.secretKey).toBe(`sk_test_…${account.test.secretKey.slice(-4)}`);
    expect(billing.body.stripe.publishableKey).toBe(`pk_test_…${account.test.publishableKey.slice(-4)}`);
    expect(billing.body.stripe.accountId).toBe(account.id);
    expect(billing.body.webhook.url).toMatch(new RegExp(`^${t.url}/webhooks/stripe/`));

    const paid = record(
      await t.http().post('/api/v1/payments').set(school.auth).send({
        amount: 8900,
        currency: 'usd',
        paymentMethod: 'pm_card_visa',
        description: 'CPR/AED class, 2 seats',
        receiptEmail: 'buyer@example.com',
      }),
    );
    expect(paid.status).toBe(201);
    expect(paid.body.status).toBe('succeeded');
    expect(paid.body.amount).toBe(8900);

    // The emulator signs and delivers payment_intent.succeeded to the tenant's endpoint.
    await eventually(async () => {
      const deliveries = await request(t.emulator.url).get('/_emulator/deliveries').query({ account: account.id });
      const delivered = (deliveries.body.data as { type: string; status: string }[]).find(
        (delivery) => delivery.type === 'payment_intent.succeeded' && delivery.status === 'succeeded',
      );

      return delivered;
    });

    const settled = await eventually(async () => {
      const response = record(await t.http().get(`/api/v1/payments/${paid.body.id}`).set(school.auth));

      return response.body.invoiceId ? response : undefined;
    });
    expect(settled.body.status).toBe('succeeded');
    expect(settled.body.receiptUrl).toEqual(expect.any(String));

    const invoice = record(await t.http().get(`/api/v1/invoices/${settled.body.invoiceId}`).set(school.auth));
    expect(invoice.status).toBe(200);
    expect(invoice.body.number).toBe(`INV-${chicagoYear()}-00001`);
    expect(invoice.body.status).toBe('paid');
    expect(invoice.body.total).toBe(8900);
    expect(invoice.body.paymentId).toBe(paid.body.id);

    const rival = await onboardTenant(`rival-${suffix}`);
    const foreignPayment = record(await t.http().get(`/api/v1/payments/${paid.body.id}`).set(rival.auth));
    const missingPayment = record(await t.http().get('/api/v1/payments/00000000-0000-4000-8000-000000000000').set(rival.auth));
    expect(foreignPayment.status).toBe(404);
    expect(foreignPayment.body).toEqual(missingPayment.body);
    expect(record(await t.http().get(`/api/v1/invoices/${invoice.body.id}`).set(rival.auth)).status).toBe(404);
    expect(record(await t.http().get('/api/v1/payments').set(rival.auth)).body.data).toEqual([]);
    expect(record(await t.http().get('/api/v1/invoices').set(rival.auth)).body.data).toEqual([]);
  });

  it('keeps a declined card payment as failed', async () => {
    const school = await onboardTenant(`declines-${Date.now().toString(36)}`);
    await connect(school.auth);

    const declined = record(
      await t.http().post('/api/v1/payments').set(school.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_chargeDeclined' }),
    );

    expect(declined.status).toBe(402);
    expect(declined.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(declined.body.code).toBe('card_declined');
    expect(declined.body.failureCode).toBe('card_declined');
    expect(declined.body.declineCode).toBe('generic_decline');
    const stored = record(await t.http().get(`/api/v1/payments/${declined.body.paymentId}`).set(school.auth));
    expect(stored.body.status).toBe('failed');
  });

  it('answers 409 stripe_not_connected before connecting', async () => {
    const school = await onboardTenant(`unconnected-${Date.now().toString(36)}`);

    const response = record(
      await t.http().post('/api/v1/payments').set(school.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' }),
    );

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('stripe_not_connected');
  });

  it('never returned a full secret key in any response', () => {
    expect(secretKeys.length).toBeGreaterThan(0);
    for (const body of seenBodies) {
      for (const key of secretKeys) {
        expect(body).not.toContain(key);
      }
      expect(body).not.toMatch(/\b(sk|rk)_(test|live)_[A-Za-z0-9]{10,}/);
      expect(body).not.toMatch(/whsec_[A-Za-z0-9]{10,}/);
    }
  });
});
