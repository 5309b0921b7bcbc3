import { RequestContext } from '@app/common/context/request-context';
import { QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { WebhookEventsRepository } from '../../src/modules/webhooks/webhook-events.repository';
import { WebhookEventsSweeper } from '../../src/modules/webhooks/webhook-events.sweeper';
import { WebhookIntakeService } from '../../src/modules/webhooks/webhook-intake.service';
import { createOperatorAuth, createTenant } from '../support/factories';
import { TestApp, eventually, freePort, startTestApp } from '../support/test-app';
import { startDatabaseProxy } from './webhook-helpers';

/** A platform secret the suite's app starts with (STRIPE_WEBHOOK_SECRET). */
const PLATFORM_SECRET = `whsec_${randomBytes(24).toString('hex')}`;
/** No handler declares this type, so its events end `ignored` with `unhandled_type`. */
const UNHANDLED_TYPE = 'balance.available';

interface WebhookEndpoint {
  tenantId: string;
  /** Bearer header of the tenant's owner token. */
  auth: { Authorization: string };
  /** The path of the tenant's webhook URL, /webhooks/stripe/wh_… */
  path: string;
  /** The tenant endpoint's signing secret. */
  secret: string;
  /** The emulator account the tenant connected. */
  account: { id: string; test: { publishableKey: string; secretKey: string } };
}

interface InboxRow {
  id: string;
  stripe_event_id: string;
  type: string;
  status: string;
  reason: string | null;
  attempts: number;
  verified_by: string;
  raw_body: Buffer;
  payload: Record<string, unknown>;
  processed_at: Date | null;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function stripeEvent(overrides: Record<string, unknown> = {}): Buffer {
  const event = {
    id: `evt_${randomBytes(12).toString('hex')}`,
    object: 'event',
    api_version: '2026-11-18.endive',
    created: nowSeconds(),
    data: { object: { id: `txn_${randomBytes(8).toString('hex')}`, object: 'balance', available: [{ amount: 100, currency: 'usd' }] } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: UNHANDLED_TYPE,
    ...overrides,
  };

  return Buffer.from(JSON.stringify(event, null, 2), 'utf8');
}

function eventIdOf(body: Buffer): string {
  return (JSON.parse(body.toString('utf8')) as { id: string }).id;
}

describe('Stripe webhook intake', () => {
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

  /**
   * Connect a new tenant to a fresh emulator account and give its endpoint a
   * signing secret generated here. An operator sets it through the ops API, as
   * for an endpoint pasted by hand, which replaces the secret of the endpoint
   * the service registered in the emulator.
   */
  async function connectedEndpoint(): Promise<WebhookEndpoint> {
    const tenant = await createTenant(t);
    const account = await request(t.emulator.url).post('/_emulator/accounts').expect(201);
    await t
      .http()
      .post('/api/v1/settings/billing/stripe')
      .set(tenant.auth)
      .send({ publishableKey: account.body.test.publishableKey, secretKey: account.body.test.secretKey })
      .expect(201);
    const billing = await t.http().get('/api/v1/settings/billing').set(tenant.auth).expect(200);
    const secret = `whsec_${randomBytes(24).toString('hex')}`;
    await t.http().put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`).set(operator).send({ secret }).expect(204);

    return { tenantId: tenant.tenantId, auth: tenant.auth, path: new URL(billing.body.webhook.url as string).pathname, secret, account: account.body };
  }

  /** POST a delivery. The body goes as a string because superagent would serialize a Buffer as JSON. */
  function deliver(path: string, body: Buffer, signature?: string, baseUrl = t.url): request.Test {
    const post = request(baseUrl).post(path).set('Content-Type', 'application/json');

    return (signature === undefined ? post : post.set('Stripe-Signature', signature)).send(body.toString('utf8'));
  }

  async function inboxRows(tenantId: string, stripeEventId: string): Promise<InboxRow[]> {
    return dataSource.query(
      `SELECT id, stripe_event_id, type, status, reason, attempts, verified_by, raw_body, payload, processed_at
         FROM webhook_events WHERE tenant_id = $1 AND stripe_event_id = $2`,
      [tenantId, stripeEventId],
    );
  }

  async function jobsFor(webhookEventId: string): Promise<string[]> {
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);

    return jobs.filter((job) => job?.data?.webhookEventId === webhookEventId).map((job) => String(job.id));
  }

  async function finishedRow(tenantId: string, stripeEventId: string): Promise<InboxRow> {
    return eventually(async () => {
      const [row] = await inboxRows(tenantId, stripeEventId);

      return row && ['processed', 'ignored', 'failed'].includes(row.status) ? row : undefined;
    });
  }

  describe('signature', () => {
    let endpoint: WebhookEndpoint;

    beforeAll(async () => {
      endpoint = await connectedEndpoint();
    });

    it('stores an event signed with the endpoint secret', async () => {
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(response.status).toBe(200);
      expect(response.body).toEqual({ received: true });
      const rows = await inboxRows(endpoint.tenantId, eventIdOf(body));
      expect(rows).toHaveLength(1);
      expect(rows[0].verified_by).toBe('endpoint');
      expect(Buffer.compare(rows[0].raw_body, body)).toBe(0);
      expect(rows[0].payload.id).toBe(eventIdOf(body));
    });

    it('stores an event signed with a platform secret', async () => {
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body, signStripePayload(PLATFORM_SECRET, body, nowSeconds()));

      expect(response.status).toBe(200);
      const rows = await inboxRows(endpoint.tenantId, eventIdOf(body));
      expect(rows).toHaveLength(1);
      expect(rows[0].verified_by).toBe('platform');
    });

    it('rejects a signature made with another secret', async () => {
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body, signStripePayload(`whsec_${randomBytes(24).toString('hex')}`, body, nowSeconds()));

      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(response.body.code).toBe('signature_invalid');
      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(0);
    });

    it('rejects a timestamp older than 300 seconds', async () => {
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds() - 301));

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
    });

    it('rejects a timestamp more than 300 seconds ahead', async () => {
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds() + 301));

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
    });

    it('rejects a missing Stripe-Signature header', async () => {
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body);

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
    });

    it('accepts a good v1 entry after a bad one', async () => {
      const body = stripeEvent();
      const timestamp = nowSeconds();
      const good = signStripePayload(endpoint.secret, body, timestamp).split('v1=')[1];
      const bad = signStripePayload(`whsec_${randomBytes(24).toString('hex')}`, body, timestamp).split('v1=')[1];

      const response = await deliver(endpoint.path, body, `t=${timestamp},v1=${bad},v1=${good}`);

      expect(response.status).toBe(200);
      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(1);
    });

    it('accepts a good v1 entry before a bad one', async () => {
      const body = stripeEvent();
      const timestamp = nowSeconds();
      const good = signStripePayload(endpoint.secret, body, timestamp).split('v1=')[1];
      const bad = signStripePayload(`whsec_${randomBytes(24).toString('hex')}`, body, timestamp).split('v1=')[1];

      const response = await deliver(endpoint.path, body, `t=${timestamp},v1=${good},v1=${bad}`);

      expect(response.status).toBe(200);
      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(1);
    });

    it('ignores a v0 entry beside a good v1 entry', async () => {
      const body = stripeEvent();
      const timestamp = nowSeconds();
      const good = signStripePayload(endpoint.secret, body, timestamp).split('v1=')[1];

      const response = await deliver(endpoint.path, body, `t=${timestamp},v0=${'0'.repeat(64)},v1=${good}`);

      expect(response.status).toBe(200);
    });

    it('rejects a header without a timestamp', async () => {
      const body = stripeEvent();
      const good = signStripePayload(endpoint.secret, body, nowSeconds()).split('v1=')[1];

      const response = await deliver(endpoint.path, body, `v1=${good}`);

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
    });

    it('rejects a header with only a v0 entry', async () => {
      const body = stripeEvent();
      const timestamp = nowSeconds();
      const signature = signStripePayload(endpoint.secret, body, timestamp).split('v1=')[1];

      const response = await deliver(endpoint.path, body, `t=${timestamp},v0=${signature}`);

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
    });

    it('rejects a body with one byte changed', async () => {
      const body = stripeEvent();
      const signature = signStripePayload(endpoint.secret, body, nowSeconds());
      const tampered = Buffer.from(body);
      const index = tampered.indexOf('"amount": 100') + '"amount": '.length;
      tampered[index] = '9'.charCodeAt(0);

      const response = await deliver(endpoint.path, tampered, signature);

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(0);
    });

    it('rejects a signed body that is not a Stripe event', async () => {
      const body = Buffer.from(JSON.stringify({ id: 'ch_123', object: 'charge' }));

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
    });

    it('rejects an event created after its signing', async () => {
      const body = stripeEvent({ created: nowSeconds() + 3_600 });

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
      expect(response.body.detail).toContain('created');
      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(0);
    });

    it('rejects an event created after an older signing', async () => {
      const body = stripeEvent({ created: nowSeconds() + 250 });

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds() - 250));

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
      expect(response.body.detail).toContain('created');
      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(0);
    });

    it('accepts an event created within the clock tolerance', async () => {
      const body = stripeEvent({ created: nowSeconds() + 120 });

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(response.status).toBe(200);
      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(1);
    });
  });

  describe('routing', () => {
    it('answers 404 for an unknown endpoint token', async () => {
      const body = stripeEvent();

      const response = await deliver(`/webhooks/stripe/wh_${randomBytes(12).toString('hex')}`, body, signStripePayload(PLATFORM_SECRET, body, nowSeconds()));

      expect(response.status).toBe(404);
      expect(response.body.code).toBe('not_found');
    });

    it('answers 404 for a malformed endpoint token', async () => {
      const body = stripeEvent();

      const response = await deliver('/webhooks/stripe/not-a-token', body, signStripePayload(PLATFORM_SECRET, body, nowSeconds()));

      expect(response.status).toBe(404);
      expect(response.body.code).toBe('not_found');
    });

    it('answers 413 for a body over 1 MiB', async () => {
      const endpoint = await connectedEndpoint();
      const body = stripeEvent({ data: { object: { padding: 'x'.repeat(1024 * 1024) } } });

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(response.status).toBe(413);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(response.body.code).toBe('payload_too_large');
    });

    it("rejects tenant A's signature on tenant B's URL", async () => {
      const tenantA = await connectedEndpoint();
      const tenantB = await connectedEndpoint();
      const body = stripeEvent();

      const response = await deliver(tenantB.path, body, signStripePayload(tenantA.secret, body, nowSeconds()));

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('signature_invalid');
      expect(await inboxRows(tenantB.tenantId, eventIdOf(body))).toHaveLength(0);
    });
  });

  describe('OpenAPI document', () => {
    it('documents the webhook route without bearer auth', async () => {
      const response = await t.http().get('/api/docs-json').expect(200);
      const operation = response.body.paths['/webhooks/stripe/{endpointToken}']?.post;

      expect(operation).toBeDefined();
      expect(operation.security).toBeUndefined();
      expect(Object.keys(operation.responses).sort()).toEqual(['200', '400', '404', '413', '429', '503']);
    });
  });

  describe('duplicates', () => {
    let endpoint: WebhookEndpoint;

    beforeAll(async () => {
      endpoint = await connectedEndpoint();
    });

    it('acknowledges a redelivery without a second row or job', async () => {
      const body = stripeEvent();

      const first = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));
      const second = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ received: true });
      const rows = await inboxRows(endpoint.tenantId, eventIdOf(body));
      expect(rows).toHaveLength(1);
      expect(await jobsFor(rows[0].id)).toEqual([`webhook-event-${rows[0].id}`]);
    });

    it('stores ten concurrent deliveries of one event once', async () => {
      const body = stripeEvent();
      const signature = signStripePayload(endpoint.secret, body, nowSeconds());

      const responses = await Promise.all(Array.from({ length: 10 }, () => deliver(endpoint.path, body, signature)));

      expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
      const rows = await inboxRows(endpoint.tenantId, eventIdOf(body));
      expect(rows).toHaveLength(1);
      expect(await jobsFor(rows[0].id)).toHaveLength(1);
    });

    it('keeps the same event id apart for two tenants', async () => {
      const other = await connectedEndpoint();
      const body = stripeEvent();

      await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds())).expect(200);
      await deliver(other.path, body, signStripePayload(other.secret, body, nowSeconds())).expect(200);

      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(1);
      expect(await inboxRows(other.tenantId, eventIdOf(body))).toHaveLength(1);
    });
  });

  describe('batches', () => {
    let endpoint: WebhookEndpoint;
    let intake: WebhookIntakeService;
    let repository: WebhookEventsRepository;
    let context: RequestContext;

    beforeAll(async () => {
      endpoint = await connectedEndpoint();
      intake = t.app.get(WebhookIntakeService);
      repository = t.app.get(WebhookEventsRepository);
      context = t.app.get(RequestContext);
    });

    function newEvent(body: Buffer) {
      const { id, type, created } = JSON.parse(body.toString('utf8')) as { id: string; type: string; created: number };

      return { stripeEventId: id, type, livemode: false, apiVersion: '2026-11-18.endive', stripeCreated: created, rawBody: body, verifiedBy: 'endpoint' as const };
    }

    function insertBatch(bodies: Buffer[]) {
      return context.runAsTenant(endpoint.tenantId, () => repository.insertBatch(endpoint.tenantId, bodies.map(newEvent)));
    }

    it('gives each new event its id and a duplicate null', async () => {
      const [stored, first, second] = [stripeEvent(), stripeEvent(), stripeEvent()];
      await deliver(endpoint.path, stored, signStripePayload(endpoint.secret, stored, nowSeconds())).expect(200);

      const results = await insertBatch([first, stored, second, first]);

      const [firstRow] = await inboxRows(endpoint.tenantId, eventIdOf(first));
      const [secondRow] = await inboxRows(endpoint.tenantId, eventIdOf(second));
      expect(results).toEqual([{ id: firstRow.id }, { id: null }, { id: secondRow.id }, { id: null }]);
      expect(firstRow.raw_body.equals(first)).toBe(true);
      expect(firstRow.payload).toEqual(JSON.parse(first.toString('utf8')));
    });

    it('inserts a batch with an unstorable event one by one', async () => {
      const good = [stripeEvent(), stripeEvent()];
      // JSON.parse accepts the \u0000 escape, and jsonb rejects it.
      const unstorable = stripeEvent({ description: 'a\u0000b' });

      const results = await insertBatch([good[0], unstorable, good[1]]);

      expect(results[0]).toEqual({ id: expect.any(String) });
      expect(results[1]).toEqual({ error: expect.objectContaining({ code: '22P05' }) });
      expect(results[2]).toEqual({ id: expect.any(String) });
      expect(await inboxRows(endpoint.tenantId, eventIdOf(unstorable))).toHaveLength(0);
      expect(await inboxRows(endpoint.tenantId, eventIdOf(good[1]))).toHaveLength(1);
    });

    it('stores one batch per api process without a deadlock', async () => {
      // Two api processes may batch the same redeliveries in opposite orders.
      const bodies = Array.from({ length: 300 }, () => stripeEvent());

      const results = await Promise.allSettled([insertBatch(bodies), insertBatch([...bodies].reverse())]);

      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
      const outcomes = results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
      expect(outcomes.filter((outcome) => 'error' in outcome)).toEqual([]);
      expect(outcomes.filter((outcome) => 'id' in outcome && outcome.id !== null)).toHaveLength(bodies.length);
    });

    it('answers each delivery of a burst', async () => {
      const stored = stripeEvent();
      await deliver(endpoint.path, stored, signStripePayload(endpoint.secret, stored, nowSeconds())).expect(200);
      const fresh = Array.from({ length: 20 }, () => stripeEvent());
      const unstorable = stripeEvent({ description: 'a\u0000b' });
      const bodies = [...fresh, fresh[3], stored, unstorable];
      const token = endpoint.path.split('/').pop() as string;

      const results = await Promise.allSettled(bodies.map((body) => intake.receive(token, body, signStripePayload(endpoint.secret, body, nowSeconds()))));

      const outcome = (index: number) => {
        const result = results[index];

        return result.status === 'fulfilled' ? result.value : (result.reason as { code: string }).code;
      };
      // Which of two concurrent deliveries of one event is stored first is not fixed.
      expect([outcome(3), outcome(20)].sort()).toEqual(['duplicate', 'stored']);
      expect(outcome(21)).toBe('duplicate');
      expect(outcome(22)).toBe('signature_invalid');
      for (const [index, body] of fresh.entries()) {
        if (index !== 3) {
          expect(outcome(index)).toBe('stored');
        }
        const rows = await inboxRows(endpoint.tenantId, eventIdOf(body));
        expect(rows).toHaveLength(1);
        expect(rows[0].raw_body.equals(body)).toBe(true);
        expect(await jobsFor(rows[0].id)).toEqual([`webhook-event-${rows[0].id}`]);
      }
    });
  });

  describe('processing', () => {
    let endpoint: WebhookEndpoint;

    beforeAll(async () => {
      endpoint = await connectedEndpoint();
    });

    it('ignores an event of an unhandled type', async () => {
      const body = stripeEvent({ type: UNHANDLED_TYPE });

      await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds())).expect(200);
      const row = await finishedRow(endpoint.tenantId, eventIdOf(body));

      expect(row.status).toBe('ignored');
      expect(row.reason).toBe('unhandled_type');
      expect(row.attempts).toBe(1);
      expect(row.processed_at).toBeInstanceOf(Date);
    });

    it('shows the last delivery time on the Billing page', async () => {
      const body = stripeEvent();

      await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds())).expect(200);
      await finishedRow(endpoint.tenantId, eventIdOf(body));
      const billing = await t.http().get('/api/v1/settings/billing').set(endpoint.auth).expect(200);

      expect(billing.body.webhook.lastEventAt).toEqual(expect.any(String));
    });

    it('ignores a live event for a test-mode connection', async () => {
      const body = stripeEvent({
        type: 'payment_intent.succeeded',
        livemode: true,
        data: { object: { id: `pi_${randomBytes(8).toString('hex')}`, object: 'payment_intent', livemode: true, metadata: {} } },
      });

      await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds())).expect(200);
      const row = await finishedRow(endpoint.tenantId, eventIdOf(body));

      expect(row.status).toBe('ignored');
      expect(row.reason).toBe('mode_mismatch');
    });
  });

  describe('sweeper', () => {
    it('is scheduled every 10 seconds at worker start', async () => {
      const scheduler = await eventually(async () => (await queue.getJobScheduler('sweep-webhook-events')) ?? undefined);

      expect(scheduler.every).toBe(10_000);
    });
  });

  describe('with PostgreSQL down', () => {
    let database: { url: string; cut: () => Promise<void> };
    let apiWithoutDatabase: TestApp;

    beforeAll(async () => {
      database = await startDatabaseProxy();
      apiWithoutDatabase = await startTestApp({ APP_ROLE: 'api', DATABASE_URL: database.url }, t.emulator);
    });

    afterAll(async () => {
      await apiWithoutDatabase.close();
    });

    it('answers 503 so Stripe retries', async () => {
      const endpoint = await connectedEndpoint();
      const body = stripeEvent();
      await database.cut();

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()), apiWithoutDatabase.url);

      expect(response.status).toBe(503);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(response.body.code).toBe('service_unavailable');
      expect(response.headers['retry-after']).toBe('5');
    });
  });

  describe('with Redis down', () => {
    let apiWithoutRedis: TestApp;

    beforeAll(async () => {
      // Nothing listens on this port, so every enqueue fails; the database is the suite's.
      apiWithoutRedis = await startTestApp({ APP_ROLE: 'api', REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, t.emulator);
    });

    afterAll(async () => {
      await apiWithoutRedis.close();
    });

    it('stores the event, answers 200, and the sweeper enqueues it later', async () => {
      const endpoint = await connectedEndpoint();
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()), apiWithoutRedis.url);

      expect(response.status).toBe(200);
      const [stored] = await inboxRows(endpoint.tenantId, eventIdOf(body));
      expect(stored.status).toBe('received');
      expect(await jobsFor(stored.id)).toEqual([]);

      await t.app.get(WebhookEventsSweeper).sweep(0);
      const row = await finishedRow(endpoint.tenantId, eventIdOf(body));
      expect(row.status).toBe('ignored');
      expect(row.reason).toBe('unhandled_type');
    });
  });

  describe('raw bytes', () => {
    let endpoint: WebhookEndpoint;

    beforeAll(async () => {
      endpoint = await connectedEndpoint();
    });

    /** Build an event padded inside its JSON to exactly `size` bytes. */
    function eventOfSize(size: number): Buffer {
      const base = stripeEvent({ data: { object: { id: 'txn_1', object: 'balance', padding: '' } } });
      const text = base.toString('utf8');
      const index = text.indexOf('"padding": ""') + '"padding": "'.length;

      return Buffer.from(text.slice(0, index) + 'x'.repeat(size - base.length) + text.slice(index), 'utf8');
    }

    it('verifies and stores non-ASCII text byte for byte', async () => {
      const description = 'Zürich – 東京 🚀 Ærø';
      const body = stripeEvent({ data: { object: { id: 'txn_1', object: 'balance', description } } });

      await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds())).expect(200);
      const [row] = await inboxRows(endpoint.tenantId, eventIdOf(body));

      expect(Buffer.compare(row.raw_body, body)).toBe(0);
      expect((row.payload.data as { object: { description: string } }).object.description).toBe(description);
    });

    it('verifies and stores escaped characters as sent', async () => {
      const id = `evt_${randomBytes(12).toString('hex')}`;
      const text = `{"id":"${id}","object":"event","type":"${UNHANDLED_TYPE}","created":${nowSeconds()},"livemode":false,"data":{"object":{"note":"caf\\u00e9 \\/ \\"quoted\\" \\n \\ud83d\\ude80"}}}`;
      const body = Buffer.from(text, 'utf8');

      await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds())).expect(200);
      const [row] = await inboxRows(endpoint.tenantId, id);

      expect(row.raw_body.toString('utf8')).toBe(text);
      expect((row.payload.data as { object: { note: string } }).object.note).toBe('café / "quoted" \n 🚀');
    });

    it('verifies a body of exactly 1 MiB', async () => {
      const body = eventOfSize(1024 * 1024);

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(body.length).toBe(1024 * 1024);
      expect(response.status).toBe(200);
      const [row] = await inboxRows(endpoint.tenantId, eventIdOf(body));
      expect(row.raw_body.length).toBe(1024 * 1024);
    });

    it('answers 413 for one byte over 1 MiB', async () => {
      const body = eventOfSize(1024 * 1024 + 1);

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(response.status).toBe(413);
      expect(response.body.code).toBe('payload_too_large');
    });

    it('leaves JSON parsing of the API routes as it was', async () => {
      const created = await t.http().post('/api/v1/ops/tenants').set(operator).send({ slug: `raw-${randomBytes(4).toString('hex')}`, name: 'Raw body neighbour' });
      const tooLarge = await t
        .http()
        .post('/api/v1/ops/tenants')
        .set(operator)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ slug: 'big', name: 'x'.repeat(300 * 1024) }));

      expect(created.status).toBe(201);
      expect(tooLarge.status).toBe(413);
    });
  });

  describe('redelivery after the job is gone', () => {
    it('stores nothing new and adds no job', async () => {
      const endpoint = await connectedEndpoint();
      const body = stripeEvent();
      await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds())).expect(200);
      const first = await finishedRow(endpoint.tenantId, eventIdOf(body));
      await (await queue.getJob(`webhook-event-${first.id}`))?.remove();

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(response.status).toBe(200);
      const rows = await inboxRows(endpoint.tenantId, eventIdOf(body));
      expect(rows).toHaveLength(1);
      expect(rows[0].status).toBe('ignored');
      expect(rows[0].attempts).toBe(1);
      expect(await jobsFor(first.id)).toEqual([]);
    });
  });

  describe('failed-signature rate limit', () => {
    let limited: TestApp;

    beforeAll(async () => {
      limited = await startTestApp({ APP_ROLE: 'api', STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET, RATE_LIMIT_WEBHOOK_FAILURES: '3/1m' }, t.emulator);
    });

    afterAll(async () => {
      await limited.close();
    });

    async function badDeliveries(path: string, count: number, baseUrl = limited.url): Promise<request.Response[]> {
      const responses: request.Response[] = [];
      for (let i = 0; i < count; i++) {
        const body = stripeEvent();
        responses.push(await deliver(path, body, signStripePayload(`whsec_${randomBytes(24).toString('hex')}`, body, nowSeconds()), baseUrl));
      }

      return responses;
    }

    it('answers 429 with Retry-After once the failures pass the limit', async () => {
      const endpoint = await connectedEndpoint();

      const responses = await badDeliveries(endpoint.path, 4);

      expect(responses.map((response) => response.status)).toEqual([400, 400, 400, 429]);
      expect(responses[3].body.code).toBe('rate_limited');
      expect(Number(responses[3].headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(responses[3].headers['retry-after'])).toBeLessThanOrEqual(60);
    });

    it('never limits a verified delivery', async () => {
      const endpoint = await connectedEndpoint();
      await badDeliveries(endpoint.path, 5);
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()), limited.url);

      expect(response.status).toBe(200);
      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(1);
    });

    it('counts each endpoint token on its own', async () => {
      const noisy = await connectedEndpoint();
      const quiet = await connectedEndpoint();
      await badDeliveries(noisy.path, 5);

      const [response] = await badDeliveries(quiet.path, 1);

      expect(response.status).toBe(400);
    });

    it('lets failures through unlimited while Redis is away', async () => {
      const withoutRedis = await startTestApp(
        { APP_ROLE: 'api', STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET, RATE_LIMIT_WEBHOOK_FAILURES: '1/1m', REDIS_URL: `redis://127.0.0.1:${await freePort()}` },
        t.emulator,
      );
      try {
        const endpoint = await connectedEndpoint();
        const startedAt = Date.now();

        const responses = await badDeliveries(endpoint.path, 3, withoutRedis.url);

        expect(responses.map((response) => response.status)).toEqual([400, 400, 400]);
        expect(Date.now() - startedAt).toBeLessThan(2_000);
      } finally {
        await withoutRedis.close();
      }
    });
  });

  describe('endpoint secret that cannot be decrypted', () => {
    let broken: TestApp;
    /** Every JSON log line the app of this block wrote. */
    const logLines: string[] = [];
    const storedKeyIds: { tenantId: string; keyId: string }[] = [];

    beforeAll(async () => {
      const logDestination = {
        write(line: string): boolean {
          logLines.push(line);

          return true;
        },
      };
      broken = await startTestApp(
        { APP_ROLE: 'api', STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET, RATE_LIMIT_WEBHOOK_FAILURES: '3/1m', LOG_LEVEL: 'warn' },
        t.emulator,
        { logDestination },
      );
    });

    afterAll(async () => {
      await broken.close();
    });

    // Later suites decrypt every stored secret, so each secret gets its key id back.
    afterEach(async () => {
      for (const { tenantId, keyId } of storedKeyIds.splice(0)) {
        await dataSource.query(`UPDATE stripe_connections SET endpoint_secret_key_id = $2 WHERE tenant_id = $1`, [tenantId, keyId]);
      }
    });

    /** Connects an endpoint and stores its secret under a key id missing from APP_ENCRYPTION_KEY, before any delivery resolves it. */
    async function undecryptableEndpoint(): Promise<WebhookEndpoint> {
      const endpoint = await connectedEndpoint();
      const [row] = await dataSource.query(`SELECT endpoint_secret_key_id FROM stripe_connections WHERE tenant_id = $1`, [endpoint.tenantId]);
      storedKeyIds.push({ tenantId: endpoint.tenantId, keyId: row.endpoint_secret_key_id });
      await dataSource.query(`UPDATE stripe_connections SET endpoint_secret_key_id = 'gone' WHERE tenant_id = $1`, [endpoint.tenantId]);

      return endpoint;
    }

    it('answers 503 when no platform secret verifies', async () => {
      const endpoint = await undecryptableEndpoint();
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()), broken.url);

      expect(response.status).toBe(503);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(response.body.code).toBe('service_unavailable');
      expect(response.headers['retry-after']).toBe('60');
      expect(await inboxRows(endpoint.tenantId, eventIdOf(body))).toHaveLength(0);
    });

    it('stores an event a platform secret verifies', async () => {
      const endpoint = await undecryptableEndpoint();
      const body = stripeEvent();

      const response = await deliver(endpoint.path, body, signStripePayload(PLATFORM_SECRET, body, nowSeconds()), broken.url);
      const rows = await inboxRows(endpoint.tenantId, eventIdOf(body));

      expect(response.status).toBe(200);
      expect(rows).toHaveLength(1);
      expect(rows[0].verified_by).toBe('platform');
    });

    it('does not count toward the failed-signature limit', async () => {
      const endpoint = await undecryptableEndpoint();
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const body = stripeEvent();
        statuses.push((await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()), broken.url)).status);
      }

      const unsigned = await deliver(endpoint.path, stripeEvent(), undefined, broken.url);

      expect(statuses).toEqual([503, 503, 503, 503, 503]);
      expect(unsigned.status).toBe(400);
    });

    it('logs one error line naming the endpoint and the key id', async () => {
      const endpoint = await undecryptableEndpoint();
      const body = stripeEvent();
      const before = logLines.length;

      await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()), broken.url);
      const written = logLines.slice(before);
      const errors = written
        .map((line) => JSON.parse(line) as { level: number; msg: string; tenantId?: string; endpointToken?: string; undecryptableSecrets?: unknown })
        .filter((entry) => entry.tenantId === endpoint.tenantId && entry.level >= 50);

      expect(errors).toHaveLength(1);
      expect(errors[0].msg).toContain('cannot be decrypted');
      expect(errors[0].endpointToken).toBe(endpoint.path.split('/').pop());
      expect(errors[0].undecryptableSecrets).toEqual([{ slot: 'current', encryptionKeyId: 'gone', reason: 'missing_key' }]);
      expect(written.join('\n')).not.toContain(endpoint.secret);
    });
  });

  describe('attribution and ignore rules', () => {
    function stripeClient(secretKey: string): Stripe {
      const base = new URL(t.emulator.url);

      return new Stripe(secretKey, { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 });
    }

    it('ignores a foreign object as foreign_object', async () => {
      const endpoint = await connectedEndpoint();
      const other = await request(t.emulator.url).post('/_emulator/accounts').expect(201);
      const foreignIntent = await stripeClient(other.body.test.secretKey).paymentIntents.create({ amount: 1000, currency: 'usd' });
      const body = stripeEvent({ type: 'payment_intent.succeeded', data: { object: foreignIntent } });

      await deliver(endpoint.path, body, signStripePayload(PLATFORM_SECRET, body, nowSeconds())).expect(200);
      const row = await finishedRow(endpoint.tenantId, eventIdOf(body));

      expect(row.verified_by).toBe('platform');
      expect(row.status).toBe('ignored');
      expect(row.reason).toBe('foreign_object');
    });

    it('applies a platform event about an object in the tenant account', async () => {
      const endpoint = await connectedEndpoint();
      const payment = await t.http().post('/api/v1/payments').set(endpoint.auth).send({ amount: 1500, currency: 'usd', paymentMethod: 'pm_card_visa' }).expect(201);
      const intent = await stripeClient(endpoint.account.test.secretKey).paymentIntents.retrieve(payment.body.stripePaymentIntentId as string);
      const body = stripeEvent({ type: 'payment_intent.succeeded', data: { object: intent } });

      await deliver(endpoint.path, body, signStripePayload(PLATFORM_SECRET, body, nowSeconds())).expect(200);
      const row = await finishedRow(endpoint.tenantId, eventIdOf(body));

      expect(row.status).toBe('processed');
    });

    it('ignores an event about an object the service never made as unknown_object', async () => {
      const endpoint = await connectedEndpoint();
      const intent = await stripeClient(endpoint.account.test.secretKey).paymentIntents.create({ amount: 1000, currency: 'usd' });
      const body = stripeEvent({ type: 'payment_intent.succeeded', data: { object: intent } });

      await deliver(endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds())).expect(200);
      const row = await finishedRow(endpoint.tenantId, eventIdOf(body));

      expect(row.status).toBe('ignored');
      expect(row.reason).toBe('unknown_object');
    });

    it('ignores a platform event for a disconnected tenant as tenant_disconnected', async () => {
      const endpoint = await connectedEndpoint();
      await t.http().delete('/api/v1/settings/billing/stripe').set(endpoint.auth).expect(204);
      const body = stripeEvent({ type: 'payment_intent.succeeded', data: { object: { id: `pi_${randomBytes(8).toString('hex')}`, object: 'payment_intent', metadata: {} } } });

      await deliver(endpoint.path, body, signStripePayload(PLATFORM_SECRET, body, nowSeconds())).expect(200);
      const row = await finishedRow(endpoint.tenantId, eventIdOf(body));

      expect(row.status).toBe('ignored');
      expect(row.reason).toBe('tenant_disconnected');
    });
  });
});
