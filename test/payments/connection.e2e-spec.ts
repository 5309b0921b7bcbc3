import { QUEUE_PAYMENTS } from '@app/common/queues/queue-names';
import { StripeEventContext } from '@app/common/stripe/on-stripe-event.decorator';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import request from 'supertest';
import type Stripe from 'stripe';
import { PaymentsStripeEventHandlers } from '../../src/modules/payments/stripe-event-handlers';
import { submitRefundJobId } from '../../src/modules/payments/submit-refund.job';
import { createTenant } from '../support/factories';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import { Auth, Connected, paymentsHelpers } from './payments-helpers';

// Refund jobs wait 5 s before their first run, beyond Jest's default 5 s test timeout.
jest.setTimeout(60_000);

/** Payments and refunds while the tenant's Stripe connection is gone or its key revoked. */
describe('Stripe connection while payments are in flight', () => {
  let t: TestApp;
  let h: ReturnType<typeof paymentsHelpers>;

  beforeAll(async () => {
    t = await startTestApp({ STRIPE_TIMEOUT_MS: '1000' });
    h = paymentsHelpers(t);
  });

  afterEach(async () => {
    await h.clearFaults();
  });

  afterAll(async () => {
    await t.close();
  });

  async function disconnect(auth: Auth): Promise<void> {
    await t.http().delete('/api/v1/settings/billing/stripe').set(auth).expect(204);
  }

  async function refundsOf(tenant: Connected, paymentId: string): Promise<{ id: string; status: string; failureReason: string | null; origin: string }[]> {
    return (await h.listRefunds(tenant.auth, paymentId)).body.data;
  }

  describe('disconnected', () => {
    it('answers stripe_not_connected to a refund without calling Stripe', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      await disconnect(tenant.auth);
      await h.quiesceAll();
      const before = h.stripeCallCount(tenant);

      const response = await h.refund(tenant.auth, payment.body.id, { amount: 100 });

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('stripe_not_connected');
      expect(h.stripeCallsSince(tenant, before)).toEqual([]);
      expect(await refundsOf(tenant, payment.body.id)).toEqual([]);
    });

    it('answers stripe_not_connected to a payment without calling Stripe', async () => {
      const tenant = await h.connectedTenant();
      await disconnect(tenant.auth);
      const before = h.stripeCallCount(tenant);

      const response = await h.pay(tenant.auth, {});

      expect(response.body.code).toBe('stripe_not_connected');
      expect(h.stripeCallsSince(tenant, before)).toEqual([]);
    });

    it('still answers 404 before stripe_not_connected for a missing payment', async () => {
      const tenant = await createTenant(t);

      const response = await h.refund(tenant.auth, '00000000-0000-4000-8000-000000000000', {});

      expect(response.status).toBe(404);
    });
  });

  describe('revoked key', () => {
    it('turns the connection to error with a reason the Billing page shows', async () => {
      const tenant = await h.connectedTenant();
      await h.revokeKey(tenant);

      const response = await h.pay(tenant.auth, {});
      const settings = await t.http().get('/api/v1/settings/billing').set(tenant.auth);

      expect(response.status).toBe(422);
      expect(response.body.code).toBe('stripe_keys_invalid');
      expect(settings.body.stripe.status).toBe('error');
      expect(settings.body.stripe.lastError).toMatchObject({ code: 'stripe_keys_invalid', message: expect.any(String) });
    });

    it('answers stripe_keys_invalid without calling Stripe once the connection is in error', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      await h.revokeKey(tenant);
      await h.refund(tenant.auth, payment.body.id, { amount: 100 });
      const before = h.stripeCallCount(tenant);

      const refund = await h.refund(tenant.auth, payment.body.id, { amount: 100 });
      const pay = await h.pay(tenant.auth, {});

      expect(refund.body.code).toBe('stripe_keys_invalid');
      expect(pay.body.code).toBe('stripe_keys_invalid');
      expect(h.stripeCallsSince(tenant, before)).toEqual([]);
    });

    it('fails a refund Stripe rejected for the key and gives its amount back', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      await h.revokeKey(tenant);

      const response = await h.refund(tenant.auth, payment.body.id, { amount: 2000 });
      const [stored] = await refundsOf(tenant, payment.body.id);

      expect(response.body.code).toBe('stripe_keys_invalid');
      expect(stored).toMatchObject({ status: 'failed', failureReason: 'stripe_keys_invalid' });
    });

    it('takes payments and refunds again after the keys are edited', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      const idempotencyKey = 'refund-after-key-edit';
      await h.revokeKey(tenant);
      const refused = await h.refund(tenant.auth, payment.body.id, { amount: 2000 }, idempotencyKey);
      const keys = await request(t.emulator.url).post(`/_emulator/accounts/${tenant.account.id}/keys`).send({ mode: 'test' }).expect(201);

      await t.http().put('/api/v1/settings/billing/stripe/keys').set(tenant.auth).send(keys.body).expect(200);
      const refunded = await h.refund(tenant.auth, payment.body.id, { amount: 2000 }, idempotencyKey);
      const paid = await h.pay(tenant.auth, {});

      expect(refused.body.code).toBe('stripe_keys_invalid');
      expect(refunded.status).toBe(201);
      expect(paid.status).toBe(201);
    });

    it('fails the refund job for good when the tenant disconnects meanwhile', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      await h.quiesceAll();
      await h.injectFaults('timeout', 2, tenant);

      const timedOut = await h.refund(tenant.auth, payment.body.id, { amount: 500 });
      await disconnect(tenant.auth);
      const failed = await eventually(async () => {
        const [stored] = await refundsOf(tenant, payment.body.id);

        return stored?.status === 'failed' ? stored : undefined;
      }, 30_000);
      const job = await t.app.get<Queue>(getQueueToken(QUEUE_PAYMENTS)).getJob(submitRefundJobId(failed.id));

      expect(timedOut.status).toBe(502);
      expect(failed.failureReason).toBe('stripe_not_connected');
      expect(await job?.getState()).toBe('failed');
      expect(job?.failedReason).toMatch(/cannot be sent/);
      expect(job?.attemptsMade).toBe(1);
    });
  });

  describe('stored key that cannot be decrypted', () => {
    it('answers stripe_keys_invalid without calling Stripe', async () => {
      const tenant = await h.connectedTenant();
      // A key id missing from APP_ENCRYPTION_KEY. The version goes up so no cached client is used.
      await h.database().query(`UPDATE stripe_connections SET secret_key_key_id = 'retired', version = version + 1 WHERE tenant_id = $1`, [tenant.tenantId]);
      const before = h.stripeCallCount(tenant);

      const response = await h.pay(tenant.auth, {});

      expect(response.status).toBe(422);
      expect(response.body.code).toBe('stripe_keys_invalid');
      expect(response.body.detail).toContain('APP_ENCRYPTION_KEY');
      expect(h.stripeCallsSince(tenant, before)).toEqual([]);
      // Disconnecting destroys the broken key, so later suites that decrypt every stored secret still can.
      await disconnect(tenant.auth);
    });
  });

  describe('late events after a disconnect', () => {
    function disconnectedContext(tenant: Connected): StripeEventContext {
      return { tenantId: tenant.tenantId, inboxEventId: '00000000-0000-4000-8000-000000000002', verifiedBy: 'endpoint', connection: null };
    }

    function event(type: string, object: object, created = Math.floor(Date.now() / 1000)): Stripe.Event {
      return { id: `evt_late_${type}_${created}`, object: 'event', type, created, livemode: false, data: { object } } as unknown as Stripe.Event;
    }

    it('applies a late refund of a stored payment from the payload alone', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      const dashboard = await h.dashboardRefund(tenant, { paymentIntent: payment.body.stripePaymentIntentId, amount: 600 });
      await h.quiesce(tenant);
      await h.database().query(`DELETE FROM refunds WHERE tenant_id = $1`, [tenant.tenantId]);
      await h.database().query(`UPDATE payments SET amount_refunded = 0, status = 'succeeded' WHERE id = $1`, [payment.body.id]);
      await disconnect(tenant.auth);
      const before = h.stripeCallCount(tenant);

      const outcome = await t.app.get(PaymentsStripeEventHandlers).onRefundChanged(event('refund.created', dashboard), disconnectedContext(tenant));
      const [stored] = await refundsOf(tenant, payment.body.id);

      expect(outcome).toEqual({ result: 'processed' });
      expect(stored).toMatchObject({ status: 'succeeded', origin: 'stripe' });
      expect((await h.getPayment(tenant.auth, payment.body.id)).body.amountRefunded).toBe(600);
      expect(h.stripeCallsSince(tenant, before)).toEqual([]);
    });

    it('applies the refunds in a late charge.refunded payload', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      const dashboard = await h.dashboardRefund(tenant, { paymentIntent: payment.body.stripePaymentIntentId, amount: 900 });
      await h.quiesce(tenant);
      await h.database().query(`DELETE FROM refunds WHERE tenant_id = $1`, [tenant.tenantId]);
      await h.database().query(`UPDATE payments SET amount_refunded = 0, status = 'succeeded' WHERE id = $1`, [payment.body.id]);
      const charge = await h.stripeGet<Stripe.Charge>(tenant, `/v1/charges/${dashboard.charge as string}`);
      await disconnect(tenant.auth);

      await t.app
        .get(PaymentsStripeEventHandlers)
        .onChargeRefunded(event('charge.refunded', { ...charge, refunds: { object: 'list', data: [dashboard], has_more: false } }), disconnectedContext(tenant));

      expect((await h.getPayment(tenant.auth, payment.body.id)).body.amountRefunded).toBe(900);
    });

    it('ignores a late refund of a payment the service does not store', async () => {
      const tenant = await h.connectedTenant();
      await disconnect(tenant.auth);

      const outcome = await t.app
        .get(PaymentsStripeEventHandlers)
        .onRefundChanged(
          event('refund.created', { id: 're_late1', object: 'refund', amount: 100, status: 'succeeded', charge: 'ch_late1', payment_intent: 'pi_late1', metadata: {} }),
          disconnectedContext(tenant),
        );

      expect(outcome).toEqual({ result: 'ignored', reason: 'tenant_disconnected' });
    });

    it('settles a payment finished after authentication from a late event', async () => {
      const tenant = await h.connectedTenant();
      const pending = await h.pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequired' });
      await h.quiesce(tenant);
      await disconnect(tenant.auth);
      const intent = await h.stripeGet<Stripe.PaymentIntent>(tenant, `/v1/payment_intents/${pending.body.stripePaymentIntentId}`);

      await t.app
        .get(PaymentsStripeEventHandlers)
        .onPaymentIntentSucceeded(event('payment_intent.succeeded', { ...intent, status: 'succeeded' }), disconnectedContext(tenant));

      expect((await h.getPayment(tenant.auth, pending.body.id)).body.status).toBe('succeeded');
    });
  });
});
