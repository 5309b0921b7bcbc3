import { CommonModule } from '@app/common/common.module';
import { ClsModule } from 'nestjs-cls';
import { AppRoleName, rolesFor } from '@app/common/app-roles';
import { configureWorkerConnection, producerRedisOptions } from '@app/common/queues/redis-connection';
import { QUEUE_INVOICES } from '@app/common/queues/queue-names';
import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { DynamicModule, INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { loadConfig } from '../../src/config/app-config';
import { dataSourceOptions } from '../../src/database/data-source';
import { MetricsController } from '../../src/health/metrics.controller';
import { ObservabilityModule } from '../../src/observability/observability.module';
import { OBSERVED_QUEUES, QUEUE_JOB_STATES } from '../../src/observability/queue-gauges.collector';
import { freePort } from '../support/test-app';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';

/**
 * /metrics with the ObservabilityModule on the e2e database and Redis. The
 * module is booted on its own (TypeORM, BullMQ and the metrics route), so the
 * test does not depend on which modules the application registers.
 */

/** Returns the value of one series in Prometheus text format, or undefined when the series is missing. */
function seriesValue(body: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of body.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) {
      continue;
    }
    const lineLabels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((label) => [label[1], label[2]]));
    if (Object.entries(labels).every(([key, value]) => lineLabels[key] === value)) {
      return Number(match[3]);
    }
  }

  return undefined;
}

describe('GET /metrics with the ObservabilityModule', () => {
  let app: INestApplication;
  let dataSource: DataSource;
  let invoices: Queue;
  let body: string;
  let contentType: string;
  const probeJobId = `metrics-probe-${randomUUID()}`;

  beforeAll(async () => {
    configureWorkerConnection(TEST_REDIS_URL);
    const moduleRef = await Test.createTestingModule({
      imports: [
        ClsModule.forRoot({ global: true }),
        CommonModule,
        TypeOrmModule.forRoot({ ...dataSourceOptions(TEST_DATABASE_URL), autoLoadEntities: true }),
        BullModule.forRoot({ connection: producerRedisOptions(TEST_REDIS_URL), prefix: TEST_QUEUE_PREFIX }),
        ObservabilityModule,
      ],
      controllers: [MetricsController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();

    dataSource = app.get(DataSource);
    invoices = app.get<Queue>(getQueueToken(QUEUE_INVOICES));

    // Rows and a job the gauges must show. They go in before the first scrape, which caches values for 5 s.
    const [tenant] = await dataSource.query(`INSERT INTO tenants (slug, name) VALUES ($1, 'Metrics test') RETURNING id`, [
      `metrics-${randomUUID().slice(0, 8)}`,
    ]);
    await dataSource.query(
      `INSERT INTO webhook_events (tenant_id, stripe_event_id, type, livemode, stripe_created, payload, raw_body, status, verified_by)
       VALUES ($1, $2, 'payment_intent.succeeded', false, 1764900000, '{}', '\\x7b7d', 'failed', 'endpoint')`,
      [tenant.id, `evt_${randomUUID().replace(/-/g, '')}`],
    );
    await dataSource.query(
      `INSERT INTO outbox_events (tenant_id, event_name, aggregate_id, payload, occurred_at, created_at)
       VALUES ($1, 'MetricsProbe', 'probe', '{}', now(), now() - interval '120 seconds')`,
      [tenant.id],
    );
    await invoices.add('metrics-probe', {}, { jobId: probeJobId, delay: 60 * 60 * 1000 });

    const response = await request(app.getHttpServer()).get('/metrics').expect(200);
    body = response.text;
    contentType = response.headers['content-type'];
  });

  afterAll(async () => {
    await invoices?.remove(probeJobId);
    await dataSource?.query(`DELETE FROM outbox_events WHERE event_name = 'MetricsProbe'`);
    await app?.close();
  });

  it('answers as text/plain', () => {
    expect(contentType).toMatch(/^text\/plain;/);
  });

  it('answers in Prometheus text format 0.0.4', () => {
    expect(contentType).toContain('version=0.0.4');
  });

  it('reports failed inbox events', () => {
    expect(seriesValue(body, 'billing_webhook_events', { status: 'failed' })).toBeGreaterThanOrEqual(1);
  });

  it.each(['received', 'processing', 'processed', 'ignored'])('reports inbox status %s as a number', (status) => {
    expect(Number.isFinite(seriesValue(body, 'billing_webhook_events', { status }))).toBe(true);
  });

  it('reports the outbox lag of the oldest unpublished row', () => {
    expect(seriesValue(body, 'billing_outbox_lag_seconds')).toBeGreaterThanOrEqual(120);
  });

  it('reports unpublished outbox rows', () => {
    expect(seriesValue(body, 'billing_outbox_unpublished')).toBeGreaterThanOrEqual(1);
  });

  it('reports a delayed job in its queue', () => {
    expect(seriesValue(body, 'billing_queue_jobs', { queue: QUEUE_INVOICES, state: 'delayed' })).toBeGreaterThanOrEqual(1);
  });

  it('reports every state of every queue', () => {
    const missing = OBSERVED_QUEUES.flatMap((queue) =>
      QUEUE_JOB_STATES.filter((state) => !Number.isFinite(seriesValue(body, 'billing_queue_jobs', { queue, state }))).map(
        (state) => `${queue}/${state}`,
      ),
    );

    expect(missing).toEqual([]);
  });

  it.each(['not_connected', 'connected', 'error'])('reports Stripe connections %s as a number', (status) => {
    expect(Number.isFinite(seriesValue(body, 'billing_stripe_connections', { status }))).toBe(true);
  });

  it('serves the cached values to a second scrape', async () => {
    await dataSource.query(`UPDATE outbox_events SET published_at = now() WHERE event_name = 'MetricsProbe'`);

    const second = await request(app.getHttpServer()).get('/metrics').expect(200);

    expect(seriesValue(second.text, 'billing_outbox_unpublished')).toBe(seriesValue(body, 'billing_outbox_unpublished'));
  });
});

/**
 * The whole application of one role with the ObservabilityModule added beside
 * AppModule, as src/app.module.ts registers it for every role. Nest imports a
 * static module once, so this stays valid after AppModule imports it itself.
 */
@Module({})
class AppWithObservabilityModule {
  static forRole(role: AppRoleName): DynamicModule {
    const config = loadConfig({
      NODE_ENV: 'test',
      APP_ROLE: role,
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: TEST_QUEUE_PREFIX,
      LOG_LEVEL: 'error',
    });

    return { module: AppWithObservabilityModule, imports: [AppModule.forRoot(config, rolesFor(config.role)), ObservabilityModule] };
  }
}

describe.each<AppRoleName>(['api', 'worker'])('GET /metrics of the %s role', (role) => {
  let app: INestApplication;
  let body: string;

  beforeAll(async () => {
    app = await NestFactory.create(AppWithObservabilityModule.forRole(role), { logger: false });
    await app.listen(await freePort(), '127.0.0.1');
    body = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
  });

  afterAll(async () => {
    await app?.close();
  });

  it.each(['billing_webhook_events', 'billing_queue_jobs', 'billing_outbox_lag_seconds', 'billing_outbox_unpublished', 'billing_stripe_connections'])(
    'reports %s as a number',
    (name) => {
      expect(Number.isFinite(seriesValue(body, name))).toBe(true);
    },
  );

  it('reports process memory', () => {
    expect(seriesValue(body, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});
