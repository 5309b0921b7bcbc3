import { QUEUE_PAYMENTS } from '@app/common/queues/queue-names';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { SubmitRefundJobs, submitRefundJobId } from '../../src/modules/payments/submit-refund.job';
import { NEVER_CREATED_FAILURE_CODE, UnansweredPaymentsSweeper } from '../../src/modules/payments/unanswered-payments.sweeper';
import { connectStripe } from '../support/stripe-account';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import { Connected, PAYMENTS, paymentsHelpers } from './payments-helpers';

/**
 * Stripe failing while money moves: 5xx, 429, timeouts and responses lost
 * after Stripe acted. The stripe-node client retries each call once with the same
 * idempotency key, so two faults make a call fail for the service.
 */
// Retry jobs wait 5 s before their first run, beyond Jest's default 5 s test timeout.
jest.setTimeout(60_000);

describe('Stripe faults', () => {
  let t: TestApp;
  let h: ReturnType<typeof paymentsHelpers>;

  beforeAll(async () => {
    t = await startTestApp({ STRIPE_TIMEOUT_MS: '1000' });
    h = paymentsHelpers(t);
  });

  afterEach(async () => {
    // A fault a test did not use up would hit the next test's first Stripe call.
    await h.clearFaults();
  });

  afterAll(async () => {
    await t.close();
  });

  function key(): string {
    return `key-${randomUUID()}`;
  }

  async function onlyPayment(tenant: Connected): Promise<{ id: string; status: string; stripePaymentIntentId: string | null }> {
    const list = await t.http().get(PAYMENTS).set(tenant.auth);
    expect(list.body.data).toHaveLength(1);

    return list.body.data[0];
  }

  async function refundsOf(tenant: Connected, paymentId: string): Promise<{ id: string; status: string; stripeRefundId: string | null; failureReason: string | null }[]> {
    return (await h.listRefunds(tenant.auth, paymentId)).body.data;
  }

  /** Connects a tenant and lets the connection's own Stripe traffic finish, so injected faults hit the call under test. */
  async function quietTenant(): Promise<Connected> {
    const tenant = await h.connectedTenant();
    await h.quiesceAll();

    return tenant;
  }

  describe('payments', () => {
    it('answers 502 stripe_unavailable when Stripe answers 500', async () => {
      const tenant = await quietTenant();
      await h.injectFaults('500', 2, tenant);

      const response = await h.pay(tenant.auth, {}, key());

      expect(response.status).toBe(502);
      expect(response.body.code).toBe('stripe_unavailable');
    });

    it('retries a 500 with one PaymentIntent', async () => {
      const tenant = await quietTenant();
      const idempotencyKey = key();
      await h.injectFaults('500', 2, tenant);

      await h.pay(tenant.auth, {}, idempotencyKey);
      const retried = await h.pay(tenant.auth, {}, idempotencyKey);

      expect(retried.status).toBe(201);
      expect(retried.body.status).toBe('succeeded');
      expect((await h.stripePaymentIntents(tenant)).map((intent) => intent.id)).toEqual([retried.body.stripePaymentIntentId]);
    });

    it('survives one 500 through the client retry with the same Stripe key', async () => {
      const tenant = await quietTenant();
      await h.injectFaults('500', 1, tenant);
      const before = h.stripeCallCount(tenant);

      const response = await h.pay(tenant.auth, {});
      const creates = h.stripeCallsSince(tenant, before).filter((call) => call.path === '/v1/payment_intents');

      expect(response.status).toBe(201);
      expect(creates.map((call) => call.idempotencyKey)).toEqual([`payment-${response.body.id}-create`]);
    });

    it('answers 502 when Stripe answers 429', async () => {
      const tenant = await quietTenant();
      // stripe-node does not retry a 429 by itself.
      await h.injectFaults('429', 1, tenant);

      const response = await h.pay(tenant.auth, {});

      expect(response.body.code).toBe('stripe_unavailable');
    });

    it('retries a timeout with one PaymentIntent', async () => {
      const tenant = await quietTenant();
      const idempotencyKey = key();
      await h.injectFaults('timeout', 2, tenant);

      const timedOut = await h.pay(tenant.auth, {}, idempotencyKey);
      const retried = await h.pay(tenant.auth, {}, idempotencyKey);

      expect(timedOut.status).toBe(502);
      expect(retried.status).toBe(201);
      expect(await h.stripePaymentIntents(tenant)).toHaveLength(1);
    });

    it('creates one PaymentIntent when Stripe acted but its answer was lost', async () => {
      const tenant = await quietTenant();
      const idempotencyKey = key();
      await h.injectFaults('lost_response', 2, tenant);

      const lost = await h.pay(tenant.auth, {}, idempotencyKey);
      const retried = await h.pay(tenant.auth, {}, idempotencyKey);
      const intents = await h.stripePaymentIntents(tenant);

      expect(lost.status).toBe(502);
      expect(retried.status).toBe(201);
      expect(intents.map((intent) => intent.id)).toEqual([retried.body.stripePaymentIntentId]);
    });

    it('applies a response to a payment written meanwhile', async () => {
      const tenant = await quietTenant();
      const idempotencyKey = key();
      await h.injectFaults('lost_response', 1, tenant);

      const pending = h.pay(tenant.auth, {}, idempotencyKey);
      // While Stripe's first response is held, another write to the row, as a webhook's would, gives the row a new version.
      const processing = await eventually(async () => {
        const rows: { id: string }[] = await h.database().query(`SELECT id FROM payments WHERE tenant_id = $1`, [tenant.tenantId]);

        return rows[0];
      });
      await h.database().query(`UPDATE payments SET metadata = metadata WHERE id = $1`, [processing.id]);
      const paid = await pending;
      const replayed = await h.pay(tenant.auth, {}, idempotencyKey);
      const [stored]: { updated_at: Date }[] = await h.database().query(`SELECT updated_at FROM payments WHERE id = $1`, [processing.id]);

      expect(paid.status).toBe(201);
      expect(paid.body).toMatchObject({ id: processing.id, status: 'succeeded' });
      expect(paid.body.updatedAt).toBe(stored.updated_at.toISOString());
      expect(replayed.body).toEqual(paid.body);
      expect(await h.outboxEvents('payments.payment_succeeded', processing.id)).toHaveLength(1);
    });

    it('settles a payment whose answer was lost from its webhooks', async () => {
      const tenant = await quietTenant();
      await h.injectFaults('lost_response', 2, tenant);

      await h.pay(tenant.auth, {});
      const settled = await eventually(async () => {
        const payment = await onlyPayment(tenant);

        return payment.status === 'succeeded' ? payment : undefined;
      });
      const [intent] = await h.stripePaymentIntents(tenant);

      expect(settled.stripePaymentIntentId).toBe(intent.id);
    });
  });

  describe('refunds', () => {
    it('answers 502 when Stripe answers 500 and keeps the refund pending', async () => {
      const tenant = await quietTenant();
      const payment = await h.pay(tenant.auth, {});
      await h.quiesceAll();
      await h.injectFaults('500', 2, tenant);

      const response = await h.refund(tenant.auth, payment.body.id, { amount: 500 });
      const [stored] = await refundsOf(tenant, payment.body.id);

      expect(response.status).toBe(502);
      expect(stored).toMatchObject({ status: 'pending', stripeRefundId: null });
    });

    it('retries a refund 500 with one refund', async () => {
      const tenant = await quietTenant();
      const payment = await h.pay(tenant.auth, {});
      const idempotencyKey = key();
      await h.quiesceAll();
      await h.injectFaults('500', 2, tenant);

      await h.refund(tenant.auth, payment.body.id, { amount: 500 }, idempotencyKey);
      const retried = await h.refund(tenant.auth, payment.body.id, { amount: 500 }, idempotencyKey);

      expect(retried.status).toBe(201);
      expect(await refundsOf(tenant, payment.body.id)).toHaveLength(1);
      expect(await h.stripeRefunds(tenant, payment.body.stripePaymentIntentId)).toHaveLength(1);
    });

    it('keeps an unanswered refund in what is left to refund', async () => {
      const tenant = await quietTenant();
      const payment = await h.pay(tenant.auth, {});
      await h.quiesceAll();
      await h.injectFaults('500', 2, tenant);

      await h.refund(tenant.auth, payment.body.id, { amount: 1500 });
      const second = await h.refund(tenant.auth, payment.body.id, { amount: 1500 });

      expect(second.body.code).toBe('refund_exceeds_payment');
    });

    it('sends a refund Stripe never received again from a job', async () => {
      const tenant = await quietTenant();
      const payment = await h.pay(tenant.auth, {});
      await h.quiesceAll();
      await h.injectFaults('timeout', 2, tenant);

      const timedOut = await h.refund(tenant.auth, payment.body.id, { amount: 700 });
      const settled = await eventually(async () => {
        const [stored] = await refundsOf(tenant, payment.body.id);

        return stored?.status === 'succeeded' ? stored : undefined;
      }, 30_000);
      const stripeRefunds = await h.stripeRefunds(tenant, payment.body.stripePaymentIntentId);

      expect(timedOut.status).toBe(502);
      expect(stripeRefunds.map((refund) => refund.id)).toEqual([settled.stripeRefundId]);
      expect((await h.getPayment(tenant.auth, payment.body.id)).body.amountRefunded).toBe(700);
    });

    it('finds a refund Stripe made in Stripe before sending it again', async () => {
      const tenant = await quietTenant();
      const payment = await h.pay(tenant.auth, {});
      const refund = await h.refund(tenant.auth, payment.body.id, { amount: 700 });
      await h.quiesceAll();
      // As if Stripe's response and every event about the refund had been lost.
      await h.database().query(`UPDATE refunds SET status = 'pending', stripe_refund_id = NULL WHERE id = $1`, [refund.body.id]);
      const before = h.stripeCallCount(tenant);

      await t.app.get(SubmitRefundJobs).enqueue({ tenantId: tenant.tenantId, refundId: refund.body.id }, 0);
      const settled = await eventually(async () => {
        const [stored] = await refundsOf(tenant, payment.body.id);

        return stored?.stripeRefundId ? stored : undefined;
      });

      expect(settled).toMatchObject({ status: 'succeeded', stripeRefundId: refund.body.stripeRefundId });
      expect(h.stripeCallsSince(tenant, before).filter((call) => call.method === 'POST')).toEqual([]);
      expect(await h.stripeRefunds(tenant, payment.body.stripePaymentIntentId)).toHaveLength(1);
    });

    it('fails the refund job for good once the key is revoked', async () => {
      const tenant = await quietTenant();
      const payment = await h.pay(tenant.auth, {});
      await h.quiesceAll();
      await h.injectFaults('timeout', 2, tenant);

      const timedOut = await h.refund(tenant.auth, payment.body.id, { amount: 700 });
      await h.revokeKey(tenant);
      const failed = await eventually(async () => {
        const [stored] = await refundsOf(tenant, payment.body.id);

        return stored?.status === 'failed' ? stored : undefined;
      }, 30_000);
      const job = await t.app.get<Queue>(getQueueToken(QUEUE_PAYMENTS)).getJob(submitRefundJobId(failed.id));
      const settings = await t.http().get('/api/v1/settings/billing').set(tenant.auth);

      expect(timedOut.status).toBe(502);
      expect(failed.failureReason).toBe('stripe_keys_invalid');
      expect(await job?.getState()).toBe('failed');
      expect(job?.attemptsMade).toBe(1);
      expect(settings.body.stripe.status).toBe('error');
    });
  });

  describe('unanswered payments', () => {
    function sweeper(): UnansweredPaymentsSweeper {
      return t.app.get(UnansweredPaymentsSweeper);
    }

    async function unanswered(tenant: Connected, fault: '500' | 'lost_response'): Promise<string> {
      await h.injectFaults(fault, 2, tenant);
      const response = await h.pay(tenant.auth, {});
      expect(response.status).toBe(502);

      return (await onlyPayment(tenant)).id;
    }

    it('fails a payment Stripe never created', async () => {
      const tenant = await quietTenant();
      const paymentId = await unanswered(tenant, '500');

      await sweeper().sweep(0);
      const payment = (await h.getPayment(tenant.auth, paymentId)).body;

      expect(payment.status).toBe('failed');
      expect(payment.failureCode).toBe(NEVER_CREATED_FAILURE_CODE);
      expect(payment.stripePaymentIntentId).toBeNull();
      expect(await h.stripePaymentIntents(tenant)).toHaveLength(0);
    });

    it('settles a payment from the PaymentIntent Stripe created', async () => {
      const tenant = await quietTenant();
      // Without its webhooks, only the sweep can learn that Stripe acted.
      await request(t.emulator.url).post('/_emulator/deliveries/hold').send({ account: tenant.account.id }).expect(201);
      const paymentId = await unanswered(tenant, 'lost_response');

      await sweeper().sweep(0);
      const payment = (await h.getPayment(tenant.auth, paymentId)).body;
      const intents = await h.stripePaymentIntents(tenant);
      // Held deliveries would keep the next test's wait for a quiet emulator from ending.
      await request(t.emulator.url).post('/_emulator/deliveries/release').send({ account: tenant.account.id }).expect(201);

      expect(payment.status).toBe('succeeded');
      expect(intents).toHaveLength(1);
      expect(payment.stripePaymentIntentId).toBe(intents[0].id);
      expect(payment.receiptUrl).toEqual(expect.any(String));
    });

    it('dates a retried swept payment anew', async () => {
      const tenant = await quietTenant();
      const idempotencyKey = key();
      await h.injectFaults('500', 2, tenant);
      expect((await h.pay(tenant.auth, {}, idempotencyKey)).status).toBe(502);
      const paymentId = (await onlyPayment(tenant)).id;
      await sweeper().sweep(0);
      const swept = (await h.getPayment(tenant.auth, paymentId)).body;

      const retried = await h.pay(tenant.auth, {}, idempotencyKey);
      const stored = (await h.getPayment(tenant.auth, paymentId)).body;

      expect(swept.status).toBe('failed');
      expect(retried.status).toBe(201);
      expect(retried.body).toMatchObject({ id: paymentId, status: 'succeeded' });
      expect(Date.parse(retried.body.updatedAt)).toBeGreaterThan(Date.parse(swept.updatedAt));
      expect(retried.body.updatedAt).toBe(stored.updatedAt);
    });

    it('leaves a payment of an earlier connection alone', async () => {
      const tenant = await quietTenant();
      const paymentId = await unanswered(tenant, '500');
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);
      await connectStripe(t, tenant.auth);

      await sweeper().sweep(0);
      const payment = (await h.getPayment(tenant.auth, paymentId)).body;

      expect(payment.status).toBe('processing');
    });

    it('leaves a payment inside the grace period alone', async () => {
      const tenant = await quietTenant();
      const paymentId = await unanswered(tenant, '500');

      await sweeper().sweep();
      const payment = (await h.getPayment(tenant.auth, paymentId)).body;

      expect(payment.status).toBe('processing');
    });
  });
});
