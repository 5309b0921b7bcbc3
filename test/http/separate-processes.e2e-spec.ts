import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createOperatorAuth, createTenant } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';
import { TestApp, eventually, freePort, startTestApp } from '../support/test-app';
import { connectedEndpoint, deliver, eventIdOf, nowSeconds, stripeEvent } from '../webhooks/webhook-helpers';

jest.setTimeout(180_000);

const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');
const EVENTS = 40;
const PAYMENTS_PER_TENANT = 10;

interface ServiceProcess {
  role: 'api' | 'worker';
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Two api and two worker processes, built from dist/ as production runs
 * them, on one database and one Redis. The in-process app (api role) only
 * creates tenants. The emulator sends its own webhooks to the first api
 * process, and the test sends payments and signed events to both.
 */
describe('Two api and two worker processes', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let apis: ServiceProcess[];
  let workers: ServiceProcess[];
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    const apiPorts = [await freePort(), await freePort()];
    t = await startTestApp({ APP_ROLE: 'api', PUBLIC_BASE_URL: `http://127.0.0.1:${apiPorts[0]}` });
    dataSource = t.app.get(DataSource);
    apis = await Promise.all(apiPorts.map((port) => start('api', port)));
    workers = await Promise.all([start('worker', await freePort()), start('worker', await freePort())]);
  });

  afterAll(async () => {
    for (const service of processes) {
      service.child.kill('SIGTERM');
      await service.exited;
    }
    await t?.close();
  });

  async function start(role: 'api' | 'worker', port: number): Promise<ServiceProcess> {
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        APP_ROLE: role,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: TEST_DATABASE_URL,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: TEST_QUEUE_PREFIX,
        STRIPE_API_BASE: t.emulator.url,
        PUBLIC_BASE_URL: t.config.publicBaseUrl,
        STRIPE_TIMEOUT_MS: '5000',
        LOG_LEVEL: process.env.WORKER_LOG_LEVEL ?? 'warn',
      },
      // WORKER_LOG_FILE keeps the processes' logs for debugging this suite.
      stdio: process.env.WORKER_LOG_FILE ? ['ignore', openSync(process.env.WORKER_LOG_FILE, 'a'), 'ignore'] : 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const service: ServiceProcess = { role, url: `http://127.0.0.1:${port}`, child, exited };
    processes.push(service);
    await eventually(async () => {
      const response = await fetch(`${service.url}/health/ready`).catch(() => null);

      return response?.status === 200 ? true : undefined;
    }, 60_000);

    return service;
  }

  it('processes every event once', async () => {
    const operator = await createOperatorAuth(t);
    const endpoint = await connectedEndpoint(t, operator);
    const bodies = Array.from({ length: EVENTS }, () => stripeEvent());

    // Every event goes to both api processes, as Stripe's redeliveries may reach any of them.
    await Promise.all(
      bodies.flatMap((body) => apis.map((api) => deliver(api.url, endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds())).expect(200))),
    );

    const rows = await eventually(async () => {
      const found: { stripe_event_id: string; status: string; attempts: number }[] = await dataSource.query(
        `SELECT stripe_event_id, status, attempts FROM webhook_events WHERE tenant_id = $1`,
        [endpoint.tenantId],
      );

      return found.length === EVENTS && found.every((row) => row.status === 'ignored') ? found : undefined;
    }, 60_000);

    expect(rows.map((row) => row.stripe_event_id).sort()).toEqual(bodies.map(eventIdOf).sort());
    expect(rows.filter((row) => row.attempts !== 1)).toEqual([]);
  });

  it('issues one invoice per payment', async () => {
    const tenants = await Promise.all([0, 1].map(async () => {
      const tenant = await createTenant(t);
      await connectStripe(t, tenant.auth);

      return tenant;
    }));

    const payments = await Promise.all(
      tenants.flatMap((tenant) =>
        Array.from({ length: PAYMENTS_PER_TENANT }, async (_, index) => {
          const api = apis[index % apis.length];
          const response = await request(api.url)
            .post('/api/v1/payments')
            .set(tenant.auth)
            .send({ amount: 1000 + index, currency: 'usd', paymentMethod: 'pm_card_visa' })
            .expect(201);

          return { tenantId: tenant.tenantId, id: response.body.id as string };
        }),
      ),
    );

    const invoices = await eventually(async () => {
      const found: { payment_id: string; count: string }[] = await dataSource.query(
        `SELECT payment_id, count(*) AS count FROM invoices WHERE tenant_id = ANY($1::uuid[]) AND payment_id IS NOT NULL GROUP BY payment_id`,
        [tenants.map((tenant) => tenant.tenantId)],
      );

      return found.length === payments.length ? found : undefined;
    }, 90_000);
    const succeeded: { count: string }[] = await dataSource.query(`SELECT count(*) AS count FROM payments WHERE id = ANY($1::uuid[]) AND status = 'succeeded'`, [
      payments.map((payment) => payment.id),
    ]);

    expect(invoices.map((invoice) => invoice.payment_id).sort()).toEqual(payments.map((payment) => payment.id).sort());
    expect(invoices.filter((invoice) => invoice.count !== '1')).toEqual([]);
    expect(Number(succeeded[0].count)).toBe(payments.length);
  });

  it('keeps every process running', () => {
    for (const service of [...apis, ...workers]) {
      expect({ role: service.role, exitCode: service.child.exitCode }).toEqual({ role: service.role, exitCode: null });
    }
  });
});
