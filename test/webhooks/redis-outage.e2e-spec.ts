import { JOB_SWEEP_INVOICE_JOBS, QUEUE_INVOICES, QUEUE_PAYMENTS, QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { REFUND_SWEEP_SCHEDULER_ID } from '../../src/modules/payments/refunds.sweeper';
import { SWEEP_GRACE_SECONDS, SWEEP_SCHEDULER_ID } from '../../src/modules/webhooks/webhook-events.sweeper';
import { createOperatorAuth } from '../support/factories';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import { OwnRedis, WebhookEndpoint, connectedEndpoint, deliver, eventIdOf, inboxRows, nowSeconds, stripeEvent } from './webhook-helpers';

// The sweeper waits SWEEP_GRACE_SECONDS from the delivery, and workers reconnect with backoff.
jest.setTimeout(120_000);

/**
 * Redis outages against a redis-server of this suite's own, which the tests
 * stop and start again empty (no persistence), as after a crash that lost its
 * data. The shared Redis other suites use is never touched.
 */
describe('Redis outage', () => {
  let redis: OwnRedis;
  let t: TestApp;
  let dataSource: DataSource;
  let operator: { Authorization: string };

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await startTestApp({ REDIS_URL: redis.url });
    dataSource = t.app.get(DataSource);
    operator = await createOperatorAuth(t);
  });

  afterAll(async () => {
    await redis.start().catch(() => undefined);
    await t.close();
    await redis.stop();
  });

  afterEach(async () => {
    // Every test leaves Redis running for the next one.
    await redis.start().catch(() => undefined);
  });

  async function deliverSigned(endpoint: WebhookEndpoint, baseUrl = t.url): Promise<{ stripeEventId: string; status: number; elapsedMs: number }> {
    const body = stripeEvent();
    const startedAt = Date.now();
    const response = await deliver(baseUrl, endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

    return { stripeEventId: eventIdOf(body), status: response.status, elapsedMs: Date.now() - startedAt };
  }

  it('stores and acknowledges deliveries at once while Redis is down', async () => {
    const endpoint = await connectedEndpoint(t, operator);
    await redis.stop();

    const deliveries = [await deliverSigned(endpoint), await deliverSigned(endpoint), await deliverSigned(endpoint)];

    expect(deliveries.map((delivery) => delivery.status)).toEqual([200, 200, 200]);
    expect(Math.max(...deliveries.map((delivery) => delivery.elapsedMs))).toBeLessThan(500);
    for (const delivery of deliveries) {
      const [row] = await inboxRows(dataSource, endpoint.tenantId, delivery.stripeEventId);
      expect(row.status).toBe('received');
    }
  });

  it('processes what arrived during the outage once Redis is back without its data', async () => {
    const endpoint = await connectedEndpoint(t, operator);
    await redis.stop();
    const during = await deliverSigned(endpoint);
    await redis.start();

    const row = await eventually(
      async () => {
        const [stored] = await inboxRows(dataSource, endpoint.tenantId, during.stripeEventId);

        return stored.status === 'ignored' ? stored : undefined;
      },
      (SWEEP_GRACE_SECONDS + 40) * 1000,
      500,
    );
    const scheduler = await t.app.get<Queue>(getQueueToken(QUEUE_WEBHOOK_EVENTS)).getJobScheduler(SWEEP_SCHEDULER_ID);

    expect(during.status).toBe(200);
    expect(row.reason).toBe('unhandled_type');
    expect(row.attempts).toBe(1);
    expect(scheduler).toBeDefined();
  });

  it('reschedules invoice and refund jobs after data loss', async () => {
    const invoices = t.app.get<Queue>(getQueueToken(QUEUE_INVOICES));
    const payments = t.app.get<Queue>(getQueueToken(QUEUE_PAYMENTS));
    await redis.stop();
    await redis.start();

    const schedulers = await eventually(async () => {
      const found = [await invoices.getJobScheduler(JOB_SWEEP_INVOICE_JOBS), await payments.getJobScheduler(REFUND_SWEEP_SCHEDULER_ID)];

      return found.every((scheduler) => scheduler) ? found : undefined;
    }, 30_000);

    expect(schedulers[0]?.key).toBe(JOB_SWEEP_INVOICE_JOBS);
    expect(schedulers[1]?.key).toBe(REFUND_SWEEP_SCHEDULER_ID);
  });

  it('enqueues new deliveries directly once Redis is back', async () => {
    const endpoint = await connectedEndpoint(t, operator);
    await redis.stop();
    await redis.start();

    // A row finished within 3 s got its job from intake: the sweeper waits SWEEP_GRACE_SECONDS.
    const row = await eventually(
      async () => {
        const delivery = await deliverSigned(endpoint);

        return eventually(async () => {
          const [stored] = await inboxRows(dataSource, endpoint.tenantId, delivery.stripeEventId);

          return stored.status === 'ignored' ? stored : undefined;
        }, 3_000).catch(() => undefined);
      },
      30_000,
      0,
    );

    expect(row.reason).toBe('unhandled_type');
  });

  it('relays domain events written during the outage', async () => {
    const endpoint = await connectedEndpoint(t, operator);
    await redis.stop();
    const payment = await t.http().post('/api/v1/payments').set(endpoint.auth).send({ amount: 2500, currency: 'usd', paymentMethod: 'pm_card_visa' });
    const unpublished: { count: string }[] = await dataSource.query(
      `SELECT count(*) AS count FROM outbox_events WHERE tenant_id = $1 AND published_at IS NULL AND event_name = 'payments.payment_succeeded'`,
      [endpoint.tenantId],
    );
    await redis.start();

    const invoiced = await eventually(
      async () => {
        const response = await t.http().get(`/api/v1/payments/${payment.body.id}`).set(endpoint.auth).expect(200);

        return response.body.invoiceId ? response.body : undefined;
      },
      60_000,
      250,
    );

    expect(payment.status).toBe(201);
    expect(Number(unpublished[0].count)).toBe(1);
    expect(invoiced.invoiceId).toEqual(expect.any(String));
  });

  describe('/health/ready', () => {
    let api: TestApp;
    let worker: TestApp;

    beforeAll(async () => {
      api = await startTestApp({ APP_ROLE: 'api', REDIS_URL: redis.url }, t.emulator);
      worker = await startTestApp({ APP_ROLE: 'worker', REDIS_URL: redis.url }, t.emulator);
    });

    afterAll(async () => {
      await api.close();
      await worker.close();
    });

    it('reports PostgreSQL and Redis up separately', async () => {
      const response = await request(worker.url).get('/health/ready');

      expect(response.status).toBe(200);
      expect(response.body.info.database.status).toBe('up');
      expect(response.body.info.redis.status).toBe('up');
    });

    it('makes a worker unready while Redis is down', async () => {
      await redis.stop();

      const response = await request(worker.url).get('/health/ready');

      expect(response.status).toBe(503);
      expect(response.body.error.redis.status).toBe('down');
      expect(response.body.info.database.status).toBe('up');
    });

    it('keeps the api role ready with Redis reported degraded', async () => {
      await redis.stop();

      const response = await request(api.url).get('/health/ready');

      expect(response.status).toBe(200);
      expect(response.body.info.database.status).toBe('up');
      expect(response.body.info.redis.status).toBe('degraded');
    });

    it('makes a worker ready again once Redis is back', async () => {
      await redis.stop();
      await redis.start();

      const response = await eventually(async () => {
        const ready = await request(worker.url).get('/health/ready');

        return ready.status === 200 ? ready : undefined;
      });

      expect(response.body.info.redis.status).toBe('up');
    });
  });
});
