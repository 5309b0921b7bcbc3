import { QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { WebhookIntakeService } from '../../src/modules/webhooks/webhook-intake.service';
import { createOperatorAuth, createTenant } from '../support/factories';
import { EmulatorAccount, connectStripe } from '../support/stripe-account';
import { TestApp, eventually, freePort, startTestApp } from '../support/test-app';
import { InboxRow, UNHANDLED_TYPE, deliver, eventIdOf, finishedRow, inboxRows, stripeEvent } from './webhook-helpers';

const PLATFORM_SECRET = `whsec_${randomBytes(24).toString('hex')}`;
const EVENTS = '/api/v1/ops/webhook-events';
const VIEW_FIELDS = ['attempts', 'id', 'lastError', 'livemode', 'processedAt', 'reason', 'receivedAt', 'status', 'stripeEventId', 'tenantId', 'type', 'verifiedBy'];

interface PaidTenant {
  tenantId: string;
  auth: { Authorization: string };
  path: string;
  account: EmulatorAccount;
  paymentId: string;
  intent: Stripe.PaymentIntent;
}

describe('Webhook event replay', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let queue: Queue;
  let operator: { Authorization: string };

  beforeAll(async () => {
    t = await startTestApp({ STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET });
    dataSource = t.app.get(DataSource);
    queue = t.app.get<Queue>(getQueueToken(QUEUE_WEBHOOK_EVENTS));
    operator = await createOperatorAuth(t);
  });

  afterAll(async () => {
    await t.close();
  });

  function stripeClient(secretKey: string): Stripe {
    const base = new URL(t.emulator.url);

    return new Stripe(secretKey, { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 });
  }

  /** Create a connected tenant with one succeeded card payment, whose events the emulator delivers to the tenant's own endpoint. */
  async function paidTenant(): Promise<PaidTenant> {
    const tenant = await createTenant(t);
    const account = await connectStripe(t, tenant.auth);
    const billing = await t.http().get('/api/v1/settings/billing').set(tenant.auth).expect(200);
    const payment = await t.http().post('/api/v1/payments').set(tenant.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' }).expect(201);
    const intent = await stripeClient(account.test.secretKey).paymentIntents.retrieve(payment.body.stripePaymentIntentId as string);

    return {
      tenantId: tenant.tenantId,
      auth: tenant.auth,
      path: new URL(billing.body.webhook.url as string).pathname,
      account,
      paymentId: payment.body.id as string,
      intent,
    };
  }

  /** Deliver an event about the tenant's payment intent, signed with the platform secret only. */
  async function deliverPlatformEvent(tenant: PaidTenant, type = 'payment_intent.succeeded'): Promise<string> {
    const body = stripeEvent({ type, data: { object: tenant.intent } });
    await deliver(t.url, tenant.path, body, signStripePayload(PLATFORM_SECRET, body, Math.floor(Date.now() / 1000))).expect(200);

    return eventIdOf(body);
  }

  /** Revoke the tenant's key, so confirming a platform-verified event fails permanently. */
  async function failedEvent(tenant: PaidTenant): Promise<InboxRow> {
    await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: tenant.account.test.secretKey }).expect(201);
    const stripeEventId = await deliverPlatformEvent(tenant);

    return finishedRow(dataSource, tenant.tenantId, stripeEventId);
  }

  /** Give the tenant a working key again, as the tenant does after a revocation. */
  async function fixKeys(tenant: PaidTenant): Promise<void> {
    const keys = await request(t.emulator.url).post(`/_emulator/accounts/${tenant.account.id}/keys`).send({ mode: 'test' }).expect(201);
    await t.http().put('/api/v1/settings/billing/stripe/keys').set(tenant.auth).send({ publishableKey: keys.body.publishableKey, secretKey: keys.body.secretKey }).expect(200);
  }

  async function rowById(id: string): Promise<InboxRow> {
    const [row] = await dataSource.query(`SELECT * FROM webhook_events WHERE id = $1`, [id]);

    return row as InboxRow;
  }

  async function finishedAgain(id: string, attempts: number): Promise<InboxRow> {
    return eventually(async () => {
      const row = await rowById(id);

      return row.attempts >= attempts && ['processed', 'ignored', 'failed'].includes(row.status) ? row : undefined;
    });
  }

  describe('failures', () => {
    it('fails a platform event at once when the tenant key is revoked', async () => {
      const tenant = await paidTenant();

      const row = await failedEvent(tenant);

      expect(row.status).toBe('failed');
      expect(row.reason).toBe('stripe_keys_invalid');
      expect(row.attempts).toBe(1);
      expect(row.last_error).toMatch(/^stripe_keys_invalid: /);
      expect(row.last_error).not.toContain(tenant.account.test.secretKey);
    });

    it('keeps the failed job in the failed set for 14 days', async () => {
      const tenant = await paidTenant();
      const row = await failedEvent(tenant);

      const job = await queue.getJob(`webhook-event-${row.id}`);

      expect(await job?.getState()).toBe('failed');
      expect(job?.opts.removeOnFail).toEqual({ age: 14 * 24 * 60 * 60 });
      expect(job?.failedReason).not.toContain(tenant.account.test.secretKey);
    });
  });

  describe('GET ops/webhook-events', () => {
    let tenant: PaidTenant;
    let failed: InboxRow;

    beforeAll(async () => {
      tenant = await paidTenant();
      failed = await failedEvent(tenant);
    });

    it('lists a tenant failed events with the contract fields', async () => {
      const response = await t.http().get(EVENTS).query({ tenantId: tenant.tenantId, status: 'failed' }).set(operator).expect(200);

      expect(response.body.data.map((event: { id: string }) => event.id)).toEqual([failed.id]);
      expect(Object.keys(response.body.data[0]).sort()).toEqual(VIEW_FIELDS);
      expect(response.body.data[0]).toMatchObject({ status: 'failed', reason: 'stripe_keys_invalid', attempts: 1, verifiedBy: 'platform', livemode: false });
      expect(response.body.nextCursor).toBeNull();
    });

    it('filters by type', async () => {
      const response = await t.http().get(EVENTS).query({ tenantId: tenant.tenantId, type: 'payment_intent.succeeded' }).set(operator).expect(200);

      expect(response.body.data.every((event: { type: string }) => event.type === 'payment_intent.succeeded')).toBe(true);
      expect(response.body.data.length).toBeGreaterThanOrEqual(1);
    });

    it('filters by time', async () => {
      const future = new Date(Date.now() + 60_000).toISOString();

      const after = await t.http().get(EVENTS).query({ tenantId: tenant.tenantId, since: future }).set(operator).expect(200);
      const before = await t.http().get(EVENTS).query({ tenantId: tenant.tenantId, until: future }).set(operator).expect(200);

      expect(after.body.data).toEqual([]);
      expect(before.body.data.length).toBeGreaterThanOrEqual(1);
    });

    it('rejects a time without its UTC offset', async () => {
      const response = await t.http().get(EVENTS).query({ since: '2026-12-05T10:00:00' }).set(operator);

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'since', message: 'must be an ISO 8601 time with its UTC offset, such as 2026-12-04T03:00:00Z' }]);
    });

    it('rejects a time window that ends before it starts', async () => {
      const response = await t.http().get(EVENTS).query({ since: '2026-12-05T10:00:00Z', until: '2026-12-05T09:00:00Z' }).set(operator);

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'until', message: expect.stringMatching(/^must be later than since/) }]);
    });

    it('pages newest first with a cursor', async () => {
      const all = await t.http().get(EVENTS).query({ tenantId: tenant.tenantId }).set(operator).expect(200);
      const first = await t.http().get(EVENTS).query({ tenantId: tenant.tenantId, limit: 1 }).set(operator).expect(200);
      const second = await t.http().get(EVENTS).query({ tenantId: tenant.tenantId, limit: 1, cursor: first.body.nextCursor }).set(operator).expect(200);

      expect(all.body.data.length).toBeGreaterThanOrEqual(2);
      expect(first.body.data[0].id).toBe(all.body.data[0].id);
      expect(second.body.data[0].id).toBe(all.body.data[1].id);
    });

    it('rejects an invalid filter', async () => {
      const response = await t.http().get(EVENTS).query({ status: 'lost' }).set(operator);

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
    });

    it('rejects a tenant token', async () => {
      const response = await t.http().get(EVENTS).set(tenant.auth);

      expect(response.status).toBe(403);
      expect(response.body.code).toBe('forbidden');
    });

    it('shows one event with its payload', async () => {
      const response = await t.http().get(`${EVENTS}/${failed.id}`).set(operator).expect(200);

      expect(response.body.id).toBe(failed.id);
      expect(response.body.payload.id).toBe(failed.stripe_event_id);
      expect(response.body.payload.data.object.id).toBe(tenant.intent.id);
      expect(response.body.lastError).toMatch(/^stripe_keys_invalid: /);
    });

    it('answers 404 for an unknown id', async () => {
      const response = await t.http().get(`${EVENTS}/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`).set(operator);

      expect(response.status).toBe(404);
      expect(response.body.code).toBe('not_found');
    });

    it('answers 404 for a malformed id', async () => {
      const response = await t.http().get(`${EVENTS}/not-an-id`).set(operator);

      expect(response.status).toBe(404);
    });
  });

  describe('POST ops/webhook-events/:id/replay', () => {
    it('replays a failed event once the key is fixed', async () => {
      const tenant = await paidTenant();
      const failed = await failedEvent(tenant);
      await fixKeys(tenant);

      const response = await t.http().post(`${EVENTS}/${failed.id}/replay`).set(operator).expect(200);
      const row = await finishedAgain(failed.id, 2);

      expect(response.body).toEqual({ replayed: 1 });
      expect(row.status).toBe('processed');
      expect(row.reason).toBeNull();
      expect(row.last_error).toBeNull();
      expect(row.attempts).toBe(2);
    });

    it('runs as a fresh job, dropping the failed one', async () => {
      const tenant = await paidTenant();
      const failed = await failedEvent(tenant);
      await fixKeys(tenant);

      await t.http().post(`${EVENTS}/${failed.id}/replay`).set(operator).expect(200);
      await finishedAgain(failed.id, 2);

      expect(await (await queue.getJob(`webhook-event-${failed.id}-g1`))?.getState()).toBe('completed');
      expect(await queue.getJob(`webhook-event-${failed.id}`)).toBeUndefined();
    });

    it('replays a processed event again without a second effect', async () => {
      const tenant = await paidTenant();
      const processed = await eventually(async () => {
        const rows: InboxRow[] = await dataSource.query(`SELECT * FROM webhook_events WHERE tenant_id = $1 AND type = 'payment_intent.succeeded' AND status = 'processed'`, [tenant.tenantId]);

        return rows[0];
      });

      await t.http().post(`${EVENTS}/${processed.id}/replay`).set(operator).expect(200);
      const row = await finishedAgain(processed.id, processed.attempts + 1);
      const payment = await t.http().get(`/api/v1/payments/${tenant.paymentId}`).set(tenant.auth).expect(200);
      const invoices: { count: string }[] = await dataSource.query(`SELECT count(*) AS count FROM invoices WHERE tenant_id = $1`, [tenant.tenantId]);

      expect(row.status).toBe('processed');
      expect(row.job_generation).toBe(1);
      expect(payment.body.status).toBe('succeeded');
      expect(Number(invoices[0].count)).toBe(1);
    });

    it('gives every replay its own job id', async () => {
      const tenant = await paidTenant();
      const body = stripeEvent({ type: UNHANDLED_TYPE });
      await deliver(t.url, tenant.path, body, signStripePayload(PLATFORM_SECRET, body, Math.floor(Date.now() / 1000))).expect(200);
      const ignored = await finishedRow(dataSource, tenant.tenantId, eventIdOf(body));

      await t.http().post(`${EVENTS}/${ignored.id}/replay`).set(operator).expect(200);
      await finishedAgain(ignored.id, 2);
      await t.http().post(`${EVENTS}/${ignored.id}/replay`).set(operator).expect(200);
      const row = await finishedAgain(ignored.id, 3);

      expect(row.status).toBe('ignored');
      expect(row.reason).toBe('unhandled_type');
      expect(await queue.getJob(`webhook-event-${ignored.id}-g1`)).toBeDefined();
      expect(await queue.getJob(`webhook-event-${ignored.id}-g2`)).toBeDefined();
    });

    it('never posts the event to the public endpoint', async () => {
      const tenant = await paidTenant();
      const failed = await failedEvent(tenant);
      await fixKeys(tenant);
      const intake = jest.spyOn(t.app.get(WebhookIntakeService), 'receive');

      try {
        await t.http().post(`${EVENTS}/${failed.id}/replay`).set(operator).expect(200);
        await finishedAgain(failed.id, 2);

        expect(intake).not.toHaveBeenCalled();
      } finally {
        intake.mockRestore();
      }
    });

    it('writes webhook.replayed with the operator to the tenant audit log', async () => {
      const tenant = await paidTenant();
      const failed = await failedEvent(tenant);

      await t.http().post(`${EVENTS}/${failed.id}/replay`).set(operator).expect(200);
      const audit = await t.http().get('/api/v1/ops/audit-log').query({ tenantId: tenant.tenantId }).set(operator).expect(200);
      const entry = audit.body.data.find((candidate: { action: string }) => candidate.action === 'webhook.replayed');

      expect(entry.actor.label).toBe('test operator');
      expect(entry.details).toMatchObject({ webhookEventId: failed.id, stripeEventId: failed.stripe_event_id, previousStatus: 'failed', previousReason: 'stripe_keys_invalid' });
    });

    it('refuses an event still waiting to be processed', async () => {
      const tenant = await paidTenant();
      const apiWithoutRedis = await startTestApp({ APP_ROLE: 'api', STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET, REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, t.emulator);
      try {
        const body = stripeEvent();
        await deliver(apiWithoutRedis.url, tenant.path, body, signStripePayload(PLATFORM_SECRET, body, Math.floor(Date.now() / 1000))).expect(200);
        const [received] = await inboxRows(dataSource, tenant.tenantId, eventIdOf(body));

        const response = await t.http().post(`${EVENTS}/${received.id}/replay`).set(operator);

        expect(received.status).toBe('received');
        expect(response.status).toBe(409);
        expect(response.body.code).toBe('invalid_state');
      } finally {
        await apiWithoutRedis.close();
      }
    });

    it('answers 404 for an unknown event', async () => {
      const response = await t.http().post(`${EVENTS}/${'1'.repeat(8)}-1111-4111-8111-${'1'.repeat(12)}/replay`).set(operator);

      expect(response.status).toBe(404);
    });

    it('rejects a tenant token', async () => {
      const tenant = await paidTenant();
      const failed = await failedEvent(tenant);

      const response = await t.http().post(`${EVENTS}/${failed.id}/replay`).set(tenant.auth);

      expect(response.status).toBe(403);
    });
  });

  describe('POST ops/webhook-events/replay', () => {
    it('rejects a replay window that ends before it starts', async () => {
      const response = await t
        .http()
        .post(`${EVENTS}/replay`)
        .set(operator)
        .send({ status: 'failed', since: '2026-12-05T10:00:00Z', until: '2026-12-05T10:00:00Z', dryRun: true });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'until', message: expect.stringMatching(/^must be later than since/) }]);
    });

    it('counts the matching events in a dry run and changes nothing', async () => {
      const tenant = await paidTenant();
      const failed = await failedEvent(tenant);
      await deliverPlatformEvent(tenant, 'payment_intent.processing');
      await eventually(async () => {
        const rows: InboxRow[] = await dataSource.query(`SELECT * FROM webhook_events WHERE tenant_id = $1 AND status = 'failed'`, [tenant.tenantId]);

        return rows.length === 2 ? rows : undefined;
      });

      const response = await t.http().post(`${EVENTS}/replay`).set(operator).send({ tenantId: tenant.tenantId, status: 'failed', dryRun: true }).expect(200);

      expect(response.body).toEqual({ wouldReplay: 2 });
      expect((await rowById(failed.id)).status).toBe('failed');
    });

    it('replays every failed event of a tenant', async () => {
      const tenant = await paidTenant();
      const first = await failedEvent(tenant);
      const secondEventId = await deliverPlatformEvent(tenant, 'payment_intent.processing');
      const second = await finishedRow(dataSource, tenant.tenantId, secondEventId);
      await fixKeys(tenant);

      const response = await t.http().post(`${EVENTS}/replay`).set(operator).send({ tenantId: tenant.tenantId, status: 'failed' }).expect(200);
      const rows = await Promise.all([finishedAgain(first.id, 2), finishedAgain(second.id, 2)]);

      expect(response.body).toEqual({ replayed: 2, remaining: 0 });
      expect(rows.map((row) => row.status)).toEqual(['processed', 'processed']);
    });

    it('leaves replayed events out of remaining', async () => {
      const tenant = await paidTenant();
      const failed = await failedEvent(tenant);
      await fixKeys(tenant);
      await t.http().post(`${EVENTS}/replay`).set(operator).send({ tenantId: tenant.tenantId, status: 'failed' }).expect(200);
      await finishedAgain(failed.id, 2);
      const processed: InboxRow[] = await dataSource.query(`SELECT * FROM webhook_events WHERE tenant_id = $1 AND status = 'processed'`, [tenant.tenantId]);

      const response = await t.http().post(`${EVENTS}/replay`).set(operator).send({ tenantId: tenant.tenantId, status: 'processed' }).expect(200);
      await Promise.all(processed.map((row) => finishedAgain(row.id, row.attempts + 1)));

      expect(processed.length).toBeGreaterThan(0);
      expect(response.body.replayed).toBeGreaterThanOrEqual(processed.length);
      expect(response.body.remaining).toBe(0);
    });

    it('filters the bulk replay by type', async () => {
      const tenant = await paidTenant();
      await failedEvent(tenant);
      await finishedRow(dataSource, tenant.tenantId, await deliverPlatformEvent(tenant, 'payment_intent.processing'));

      const response = await t
        .http()
        .post(`${EVENTS}/replay`)
        .set(operator)
        .send({ tenantId: tenant.tenantId, status: 'failed', type: 'payment_intent.processing', dryRun: true })
        .expect(200);

      expect(response.body).toEqual({ wouldReplay: 1 });
    });

    it('rejects a status still being processed', async () => {
      const response = await t.http().post(`${EVENTS}/replay`).set(operator).send({ status: 'processing' });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('status');
    });

    it('rejects an unknown field', async () => {
      const response = await t.http().post(`${EVENTS}/replay`).set(operator).send({ status: 'failed', everything: true });

      expect(response.status).toBe(400);
    });
  });

  describe('queues', () => {
    it('lists the counts of every queue', async () => {
      const response = await t.http().get('/api/v1/ops/queues').set(operator).expect(200);

      expect(response.body.data.map((queueCounts: { name: string }) => queueCounts.name)).toEqual(['webhook-events', 'domain-events', 'invoices', 'payments', 'maintenance']);
      expect(Object.keys(response.body.data[0]).sort()).toEqual(['active', 'completed', 'delayed', 'failed', 'name', 'paused', 'waiting']);
      expect(response.body.data[0].paused).toBe(false);
    });

    it('retries the failed jobs of a queue', async () => {
      const tenant = await paidTenant();
      const failed = await failedEvent(tenant);
      await fixKeys(tenant);

      const response = await t.http().post('/api/v1/ops/queues/webhook-events/retry-failed').set(operator).expect(200);
      const row = await finishedAgain(failed.id, 2);

      expect(response.body.retried).toBeGreaterThanOrEqual(1);
      expect(row.status).toBe('processed');
    });

    it('writes the retry to the audit log', async () => {
      await t.http().post('/api/v1/ops/queues/domain-events/retry-failed').set(operator).expect(200);
      const audit = await t.http().get('/api/v1/ops/audit-log').set(operator).expect(200);

      expect(audit.body.data.some((entry: { action: string; details: { queue?: string } }) => entry.action === 'queue.failed_jobs_retried' && entry.details.queue === 'domain-events')).toBe(true);
    });

    it('answers 404 for an unknown queue', async () => {
      const response = await t.http().post('/api/v1/ops/queues/emails/retry-failed').set(operator);

      expect(response.status).toBe(404);
    });

    it('rejects a tenant token', async () => {
      const tenant = await createTenant(t);

      const response = await t.http().get('/api/v1/ops/queues').set(tenant.auth);

      expect(response.status).toBe(403);
    });
  });
});
