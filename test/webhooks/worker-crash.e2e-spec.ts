import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTenant } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';
import { TestApp, eventually, freePort, startTestApp } from '../support/test-app';
import { InboxRow, deliver, eventIdOf, inboxRows, nowSeconds, randomSecret, stripeEvent } from './webhook-helpers';

// A killed worker's job comes back once its lock expires (BullMQ's default 30 s) and a stalled check runs (every 30 s).
jest.setTimeout(150_000);

const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');
const PLATFORM_SECRET = randomSecret();

interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/**
 * Webhook workers in processes of their own, built from dist/ as production
 * runs them, so a test can SIGKILL or SIGTERM one in the middle of a job. The
 * in-process app serves the API only. A job is held in the middle by the
 * emulator's `timeout` fault: the worker's call to confirm a platform-verified
 * event waits for a Stripe response that does not come.
 */
describe('Webhook worker stopped in the middle of a job', () => {
  let t: TestApp;
  let dataSource: DataSource;
  const workers: WorkerProcess[] = [];
  let heldCalls = 0;

  beforeAll(async () => {
    t = await startTestApp({ APP_ROLE: 'api', STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET });
    dataSource = t.app.get(DataSource);
  });

  afterEach(async () => {
    // A worker left running would take the next test's jobs.
    for (const worker of workers.splice(0)) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
  });

  afterAll(async () => {
    await t.close();
  });

  async function startWorker(stripeTimeoutMs: number): Promise<WorkerProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        APP_ROLE: 'worker',
        PORT: String(port),
        DATABASE_URL: TEST_DATABASE_URL,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: TEST_QUEUE_PREFIX,
        STRIPE_API_BASE: t.emulator.url,
        STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET,
        STRIPE_TIMEOUT_MS: String(stripeTimeoutMs),
        LOG_LEVEL: process.env.WORKER_LOG_LEVEL ?? 'warn',
      },
      // WORKER_LOG_FILE keeps the workers' logs for debugging this suite.
      stdio: process.env.WORKER_LOG_FILE ? ['ignore', openSync(process.env.WORKER_LOG_FILE, 'a'), 'ignore'] : 'ignore',
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
    );
    const worker = { child, exited };
    workers.push(worker);
    await eventually(async () => {
      const response = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null);

      return response?.status === 200 ? true : undefined;
    }, 30_000);

    return worker;
  }

  /** Create a tenant with a real payment intent, and a platform-signed event about it whose processing calls Stripe. */
  async function platformEventAboutAPayment(): Promise<{ tenantId: string; path: string; body: Buffer }> {
    const tenant = await createTenant(t);
    await connectStripe(t, tenant.auth);
    const billing = await t.http().get('/api/v1/settings/billing').set(tenant.auth).expect(200);
    const payment = await t.http().post('/api/v1/payments').set(tenant.auth).send({ amount: 1800, currency: 'usd', paymentMethod: 'pm_card_visa' }).expect(201);
    const body = stripeEvent({
      type: 'payment_intent.succeeded',
      data: { object: { id: payment.body.stripePaymentIntentId, object: 'payment_intent', status: 'succeeded', metadata: {} } },
    });

    return { tenantId: tenant.tenantId, path: new URL(billing.body.webhook.url as string).pathname, body };
  }

  /**
   * Wait until the worker finished the events the emulator sent about the
   * payment itself, so the held Stripe call is the test event's and not one
   * of theirs.
   */
  async function emulatorEventsFinished(tenantId: string): Promise<void> {
    await eventually(async () => {
      const [counts]: { finished: string; unfinished: string }[] = await dataSource.query(
        `SELECT count(*) FILTER (WHERE status IN ('processed', 'ignored', 'failed')) AS finished,
                count(*) FILTER (WHERE status IN ('received', 'processing')) AS unfinished
           FROM webhook_events WHERE tenant_id = $1`,
        [tenantId],
      );

      return Number(counts.finished) >= 2 && Number(counts.unfinished) === 0 ? true : undefined;
    }, 30_000);
  }

  async function holdNextStripeCall(): Promise<void> {
    await request(t.emulator.url).post('/_emulator/faults').send({ count: 1, kind: 'timeout' }).expect(201);
  }

  /**
   * Wait until the worker's Stripe call is the one being held. The row turns
   * `processing` before the worker calls Stripe, so stopping the worker at that
   * point alone could leave the held fault for the next worker's call.
   */
  async function heldStripeCall(): Promise<void> {
    const before = heldCalls;
    await eventually(async () => (heldCallCount() > before ? true : undefined), 30_000, 50);
    heldCalls = heldCallCount();
  }

  function heldCallCount(): number {
    return t.emulator.apiRequests().filter((record) => record.fault === 'timeout').length;
  }

  async function rowInStatus(tenantId: string, stripeEventId: string, statuses: string[], timeoutMs = 30_000): Promise<InboxRow> {
    return eventually(async () => {
      const [row] = await inboxRows(dataSource, tenantId, stripeEventId);

      return row && statuses.includes(row.status) ? row : undefined;
    }, timeoutMs, 100);
  }

  it('reruns a job whose worker was killed', async () => {
    const event = await platformEventAboutAPayment();
    const first = await startWorker(60_000);
    await emulatorEventsFinished(event.tenantId);
    await holdNextStripeCall();

    await deliver(t.url, event.path, event.body, signStripePayload(PLATFORM_SECRET, event.body, nowSeconds())).expect(200);
    const processing = await rowInStatus(event.tenantId, eventIdOf(event.body), ['processing']);
    await heldStripeCall();
    first.child.kill('SIGKILL');
    await first.exited;
    await startWorker(60_000);
    const row = await rowInStatus(event.tenantId, eventIdOf(event.body), ['processed', 'ignored', 'failed'], 120_000);

    expect(processing.attempts).toBe(1);
    expect(row.status).toBe('processed');
    expect(row.attempts).toBe(2);
  });

  it('waits for a running job before it stops on SIGTERM', async () => {
    const event = await platformEventAboutAPayment();
    // The held Stripe call times out after 3 s and stripe-node's one retry then succeeds.
    const worker = await startWorker(3_000);
    await emulatorEventsFinished(event.tenantId);
    await holdNextStripeCall();

    await deliver(t.url, event.path, event.body, signStripePayload(PLATFORM_SECRET, event.body, nowSeconds())).expect(200);
    await rowInStatus(event.tenantId, eventIdOf(event.body), ['processing']);
    await heldStripeCall();
    const stoppedAt = Date.now();
    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    const [row] = await inboxRows(dataSource, event.tenantId, eventIdOf(event.body));

    expect(row.status).toBe('processed');
    expect(row.attempts).toBe(1);
    expect((row.processed_at as Date).getTime()).toBeGreaterThan(stoppedAt);
    expect(exit.at).toBeGreaterThanOrEqual((row.processed_at as Date).getTime());
    expect(exit.signal === 'SIGTERM' || exit.code === 0).toBe(true);
  });
});
