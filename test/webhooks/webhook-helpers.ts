import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AddressInfo, Socket, connect, createServer } from 'node:net';
import Redis from 'ioredis';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTenant } from '../support/factories';
import { EmulatorAccount } from '../support/stripe-account';
import { TEST_DATABASE_URL } from '../support/test-env';
import { TestApp, eventually, freePort } from '../support/test-app';

/** No handler declares this type, so its events end `ignored` with `unhandled_type`. */
export const UNHANDLED_TYPE = 'balance.available';

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function randomSecret(): string {
  return `whsec_${randomBytes(24).toString('hex')}`;
}

/** Build a Stripe event body as Stripe formats it (pretty-printed JSON), of an unhandled type unless overridden. */
export function stripeEvent(overrides: Record<string, unknown> = {}): Buffer {
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

export function eventIdOf(body: Buffer): string {
  return (JSON.parse(body.toString('utf8')) as { id: string }).id;
}

/** POST a delivery. The body goes as a string because superagent would serialize a Buffer as JSON. */
export function deliver(baseUrl: string, path: string, body: Buffer, signature?: string): request.Test {
  const post = request(baseUrl).post(path).set('Content-Type', 'application/json');

  return (signature === undefined ? post : post.set('Stripe-Signature', signature)).send(body.toString('utf8'));
}

export interface WebhookEndpoint {
  tenantId: string;
  /** Bearer header of the tenant's owner token. */
  auth: { Authorization: string };
  /** The path of the tenant's webhook URL, /webhooks/stripe/wh_… */
  path: string;
  /** The tenant endpoint's signing secret, as the service stores it. */
  secret: string;
  account: EmulatorAccount;
}

/**
 * Connect a new tenant to a fresh emulator account, then let an operator set
 * an endpoint secret generated here, as for an endpoint pasted by hand. The
 * endpoint the service registered in the emulator keeps its own secret, so
 * deliveries the emulator sends by itself fail verification unless the test
 * sets `useRegisteredSecret`.
 */
export async function connectedEndpoint(t: TestApp, operator: { Authorization: string }, options: { useRegisteredSecret?: boolean } = {}): Promise<WebhookEndpoint> {
  const tenant = await createTenant(t);
  const account = (await request(t.emulator.url).post('/_emulator/accounts').expect(201)).body as EmulatorAccount;
  await t
    .http()
    .post('/api/v1/settings/billing/stripe')
    .set(tenant.auth)
    .send({ publishableKey: account.test.publishableKey, secretKey: account.test.secretKey })
    .expect(201);
  const billing = await t.http().get('/api/v1/settings/billing').set(tenant.auth).expect(200);
  const path = new URL(billing.body.webhook.url as string).pathname;
  if (options.useRegisteredSecret) {
    return { tenantId: tenant.tenantId, auth: tenant.auth, path, secret: '', account };
  }

  const secret = randomSecret();
  await t.http().put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`).set(operator).send({ secret }).expect(204);

  return { tenantId: tenant.tenantId, auth: tenant.auth, path, secret, account };
}

export interface InboxRow {
  id: string;
  tenant_id: string;
  stripe_event_id: string;
  type: string;
  status: string;
  reason: string | null;
  attempts: number;
  last_error: string | null;
  verified_by: string;
  raw_body: Buffer;
  payload: Record<string, unknown>;
  processed_at: Date | null;
  job_generation: number;
}

export async function inboxRows(dataSource: DataSource, tenantId: string, stripeEventId: string): Promise<InboxRow[]> {
  return dataSource.query(
    `SELECT id, tenant_id, stripe_event_id, type, status, reason, attempts, last_error, verified_by, raw_body, payload, processed_at, job_generation
       FROM webhook_events WHERE tenant_id = $1 AND stripe_event_id = $2`,
    [tenantId, stripeEventId],
  );
}

/** Wait until the tenant's row for the event is processed, ignored or failed. */
export async function finishedRow(dataSource: DataSource, tenantId: string, stripeEventId: string, timeoutMs = 15_000): Promise<InboxRow> {
  return eventually(async () => {
    const [row] = await inboxRows(dataSource, tenantId, stripeEventId);

    return row && ['processed', 'ignored', 'failed'].includes(row.status) ? row : undefined;
  }, timeoutMs);
}

/** A platform operator with a password, logged in through the API; returns the session cookie header. */
export async function operatorSession(t: TestApp): Promise<{ Cookie: string; email: string }> {
  const email = `operator-${randomBytes(5).toString('hex')}@example.com`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  await t.app.get<TenancyAdmin>(TENANCY_ADMIN).createUser({ tenantId: null, email, password, role: 'operator' });
  const login = await t.http().post('/api/v1/auth/login').send({ email, password }).expect(200);
  const cookie = (login.headers['set-cookie'] as unknown as string[]).map((value) => value.split(';')[0]).join('; ');

  return { Cookie: cookie, email };
}

/** A redis-server of the test's own on a free port, which the test may stop and start again; never the shared one. */
export class OwnRedis {
  private process: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.start();

    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Start the server with no persistence, so a restart comes back empty as after losing its data. Does nothing while it runs. */
  async start(): Promise<void> {
    if (this.process && this.process.exitCode === null) {
      return;
    }

    this.process = spawn('/usr/bin/redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await eventually(async () => {
      const client = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        await client.connect();

        return (await client.ping()) === 'PONG' ? true : undefined;
      } finally {
        client.disconnect();
      }
    }, 10_000);
  }

  async stop(): Promise<void> {
    const running = this.process;
    this.process = null;
    if (!running || running.exitCode !== null) {
      return;
    }

    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGTERM');
    });
  }
}

/** Start a TCP proxy to the test database that a test can cut, so one app loses PostgreSQL. */
export async function startDatabaseProxy(): Promise<{ url: string; cut: () => Promise<void> }> {
  const target = new URL(TEST_DATABASE_URL);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', closeBoth);
      socket.on('close', closeBoth);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const url = new URL(TEST_DATABASE_URL);
  url.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: url.toString(),
    cut: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
