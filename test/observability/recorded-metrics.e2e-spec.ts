import { createTenant } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TestApp, eventually, startTestApp } from '../support/test-app';

/** The counters move when the service works, not only exist. */
describe('recorded metrics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  async function metrics(): Promise<string> {
    return (await t.http().get('/metrics')).text;
  }

  it('counts jobs, Stripe calls and signature failures', async () => {
    const tenant = await createTenant(t);
    await connectStripe(t, tenant.auth);
    const paid = await t.http().post('/api/v1/payments').set(tenant.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    expect(paid.status).toBe(201);
    const billing = await t.http().get('/api/v1/settings/billing').set(tenant.auth);
    const webhookPath = new URL(billing.body.webhook.url).pathname;
    const rejected = await t.http().post(webhookPath).set('Content-Type', 'application/json').send('{"id":"evt_1"}');
    expect(rejected.status).toBe(400);

    const text = await eventually(async () => {
      const current = await metrics();

      const webhookJobDone = /billing_job_duration_seconds_count\{[^}]*queue="webhook-events"[^}]*result="completed"[^}]*\} [1-9]/.test(current);
      const domainEventDone = /billing_job_duration_seconds_count\{[^}]*queue="domain-events"[^}]*\} [1-9]/.test(current);

      return webhookJobDone && domainEventDone ? current : undefined;
    });

    expect(text).toMatch(/billing_job_duration_seconds_count\{[^}]*queue="domain-events"[^}]*\} [1-9]/);
    expect(text).toMatch(/billing_stripe_requests_total\{[^}]*resource="payment_intents"[^}]*\} [1-9]/);
    expect(text).toMatch(/billing_webhook_signature_failures_total\{reason="missing_header"\} [1-9]/);
  });
});
