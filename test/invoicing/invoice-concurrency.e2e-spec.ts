import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';
import { TestApp, eventually, freePort, startTestApp } from '../support/test-app';
import {
  B2bTenant,
  INVOICES,
  InvoiceBody,
  PAYMENTS,
  connectedB2bTenant,
  createCustomer,
  createDraft,
  finalize,
  numberOf,
  settleInvoiceWork,
  yearIn,
} from './invoicing-helpers';

const TENANTS = 5;
const FINALIZATIONS_PER_TENANT = 40;
const CARD_PAYMENTS_PER_TENANT = 6;
const WORKER_PROCESSES = 2;

/** A worker process of the built application, sharing the test database, Redis prefix and emulator. */
interface WorkerProcess {
  child: ChildProcess;
  output: string[];
}

async function startWorker(t: TestApp): Promise<WorkerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'src', 'main.js')], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      APP_ROLE: 'worker',
      PORT: String(port),
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: TEST_QUEUE_PREFIX,
      STRIPE_API_BASE: t.emulator.url,
      PUBLIC_BASE_URL: t.url,
      STRIPE_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const worker: WorkerProcess = { child, output: [] };
  child.stdout?.on('data', (chunk: Buffer) => worker.output.push(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => worker.output.push(chunk.toString('utf8')));

  await eventually(async () => {
    if (child.exitCode !== null) {
      throw new Error(`Worker exited with ${child.exitCode}: ${worker.output.join('').slice(-2000)}`);
    }
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null);

    return response?.status === 200 ? true : undefined;
  }, 30_000);

  return worker;
}

async function stopWorker(worker: WorkerProcess): Promise<void> {
  if (worker.child.exitCode !== null) {
    return;
  }
  const exited = new Promise<void>((resolve) => worker.child.once('exit', () => resolve()));
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function allInvoicesOf(t: TestApp, tenant: B2bTenant): Promise<InvoiceBody[]> {
  const invoices: InvoiceBody[] = [];
  let cursor: string | undefined;
  do {
    const response = await t.http().get(INVOICES).query({ limit: 100, ...(cursor ? { cursor } : {}) }).set(tenant.auth);
    invoices.push(...response.body.data);
    cursor = response.body.nextCursor ?? undefined;
  } while (cursor);

  return invoices;
}

describe('invoice numbers under concurrency', () => {
  let t: TestApp;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    for (let index = 0; index < WORKER_PROCESSES; index++) {
      workers.push(await startWorker(t));
    }
  }, 90_000);

  afterAll(async () => {
    await Promise.all(workers.map(stopWorker));
    await settleInvoiceWork(t);
    await t.close();
  }, 30_000);

  it('numbers 200 concurrent finalizations without gaps', async () => {
    const year = yearIn('America/Chicago');
    const tenants = await Promise.all(Array.from({ length: TENANTS }, () => connectedB2bTenant(t)));
    const drafts = await Promise.all(
      tenants.map(async (tenant) => {
        const customer = await createCustomer(t, tenant);
        const ids: string[] = [];
        for (let index = 0; index < FINALIZATIONS_PER_TENANT; index++) {
          ids.push((await createDraft(t, tenant, customer.id, { lines: [{ description: `Seat ${index}`, quantity: 1, unitAmount: 1000 + index }] })).id);
        }

        return { tenant, ids };
      }),
    );

    // 200 finalizations through the HTTP API and card payments, whose invoices the three worker
    // processes number from the same sequences, all at once.
    const finalizations = drafts.flatMap(({ tenant, ids }) => ids.map((id) => finalize(t, tenant, id).then((response) => ({ tenant, response }))));
    const payments = tenants.flatMap((tenant) =>
      Array.from({ length: CARD_PAYMENTS_PER_TENANT }, () =>
        t.http().post(PAYMENTS).set(tenant.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' }),
      ),
    );
    const [finalized, paid] = await Promise.all([Promise.all(finalizations), Promise.all(payments)]);

    expect(finalized.filter(({ response }) => response.status !== 200).map(({ response }) => `${response.status} ${response.text}`)).toEqual([]);
    expect(paid.filter((response) => response.status !== 201).map((response) => `${response.status} ${response.text}`)).toEqual([]);

    const expectedCount = FINALIZATIONS_PER_TENANT + CARD_PAYMENTS_PER_TENANT;
    for (const tenant of tenants) {
      const invoices = await eventually(
        async () => {
          const all = await allInvoicesOf(t, tenant);
          const settled = all.length === expectedCount && all.every((invoice) => invoice.status === 'open' || invoice.status === 'paid');

          return settled ? all : undefined;
        },
        120_000,
        500,
      );
      const numbers = invoices.map((invoice) => invoice.number).sort();

      expect(numbers).toEqual(Array.from({ length: expectedCount }, (_, index) => numberOf(year, index + 1)));

      const stripeInvoices = await tenant.stripe.invoices.list({ limit: 100 });
      const b2b = invoices.filter((invoice) => invoice.paymentId === null);
      expect(stripeInvoices.data).toHaveLength(FINALIZATIONS_PER_TENANT);
      expect(stripeInvoices.data.map((invoice) => invoice.number).sort()).toEqual(b2b.map((invoice) => invoice.number).sort());
    }

    // Both worker processes took part in issuing.
    for (const worker of workers) {
      expect(worker.output.join('')).toContain('Invoice issued in Stripe');
    }
  }, 240_000);
});
