import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { uniqueSlug } from '../support/factories';
import { EmulatorAccount, createEmulatorAccount } from '../support/stripe-account';
import { TEST_QUEUE_PREFIX, TestApp, eventually, startTestApp } from '../support/test-app';
import { TEST_REDIS_URL } from '../support/test-env';
import { CSRF, LOGIN_PATH, sessionCookieOf, strongPassword, uniqueEmail } from '../tenancy/tenancy-helpers';
import { deliver, eventIdOf, nowSeconds, randomSecret, stripeEvent } from '../webhooks/webhook-helpers';

const PLATFORM_SECRET = randomSecret();
const BILLING = '/api/v1/settings/billing';

/**
 * Runs the flows that handle secrets (operator setup, login, connect, key
 * rotation, payments, webhooks with a failing job) with every log line
 * captured in memory. The tests then search the logs, every Redis key of the
 * suite's queue prefix and every table for any full secret the flows used.
 */
describe('secret hygiene', () => {
  let t: TestApp;
  const logLines: string[] = [];
  /** Every full secret the flows used, by a label that names it in a failure. */
  const secrets = new Map<string, string>();

  function track(label: string, value: string): string {
    secrets.set(label, value);

    return value;
  }

  beforeAll(async () => {
    const logDestination = {
      write(line: string): boolean {
        logLines.push(line);

        return true;
      },
    };
    t = await startTestApp({ STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET, LOG_LEVEL: 'debug' }, undefined, { logDestination });
    track('platform webhook secret', PLATFORM_SECRET);

    await runFlows();
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  async function runFlows(): Promise<void> {
    const admin = t.app.get<TenancyAdmin>(TENANCY_ADMIN);
    const operatorToken = track('operator API token', (await admin.createToken({ tenantId: null, role: 'operator', label: 'hygiene operator' })).token);
    const operator = { Authorization: `Bearer ${operatorToken}` };

    // An operator sets up a tenant, its owner user and an API token over HTTP.
    const slug = uniqueSlug('hygiene');
    const tenant = await t.http().post('/api/v1/ops/tenants').set(operator).send({ slug, name: 'Hygiene Inc' }).expect(201);
    const tenantId = tenant.body.id as string;
    const email = uniqueEmail('owner');
    const password = track('owner password', strongPassword());
    await t.http().post(`/api/v1/ops/tenants/${tenantId}/users`).set(operator).send({ email, password, role: 'owner' }).expect(201);
    const created = await t.http().post('/api/v1/ops/tokens').set(operator).send({ tenantId, role: 'owner', label: 'hygiene owner' }).expect(201);
    const token = track('tenant API token', created.body.token as string);
    const auth = { Authorization: `Bearer ${token}` };

    // A failed login with a password that is itself a secret, then a login that works.
    const wrongPassword = track('mistyped password', strongPassword());
    await t.http().post(LOGIN_PATH).send({ tenant: slug, email, password: wrongPassword }).expect(401);
    const login = await t.http().post(LOGIN_PATH).send({ tenant: slug, email, password }).expect(200);
    const cookie = sessionCookieOf(login);
    track('session id', cookie.split('=')[1]);
    const session = { Cookie: cookie, ...CSRF };

    // Connect over the session, after a rejected live key that must not be echoed or logged.
    const account: EmulatorAccount = await createEmulatorAccount(t);
    track('live secret key', account.live.secretKey);
    await t.http().post(`${BILLING}/stripe`).set(session).send({ publishableKey: account.live.publishableKey, secretKey: account.live.secretKey }).expect(409);
    track('first secret key', account.test.secretKey);
    await t.http().post(`${BILLING}/stripe`).set(session).send({ publishableKey: account.test.publishableKey, secretKey: account.test.secretKey }).expect(201);

    // Rotation: a restricted key without the permissions the service needs, then a working secret key.
    const restricted = await request(t.emulator.url).post(`/_emulator/accounts/${account.id}/keys`).send({ mode: 'test', restricted: true, permissions: ['customers'] }).expect(201);
    track('restricted key', restricted.body.secretKey);
    const rejected = await t.http().put(`${BILLING}/stripe/keys`).set(auth).send({ publishableKey: restricted.body.publishableKey, secretKey: restricted.body.secretKey });
    expect(rejected.status).toBeGreaterThanOrEqual(400);
    const rolled = await request(t.emulator.url).post(`/_emulator/accounts/${account.id}/keys`).send({ mode: 'test' }).expect(201);
    const currentKey = track('rotated secret key', rolled.body.secretKey);
    await t.http().put(`${BILLING}/stripe/keys`).set(auth).send({ publishableKey: rolled.body.publishableKey, secretKey: currentKey }).expect(200);

    // Payments: one that succeeds and is refunded, one declined.
    const payment = await t.http().post('/api/v1/payments').set(auth).set('Idempotency-Key', randomBytes(8).toString('hex')).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' }).expect(201);
    await t.http().post(`/api/v1/payments/${payment.body.id}/refunds`).set(session).send({ amount: 500 }).expect(201);
    await t.http().post('/api/v1/payments').set(auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_chargeDeclined' }).expect(402);

    // Secrets sent where they do not belong: in a query string, a path and a bad Authorization header.
    await t.http().get(`/api/v1/payments?access_token=${token}&key=${currentKey}`).set(auth);
    await t.http().get(`/api/v1/payments/${currentKey}`).set(auth).expect(404);
    await t.http().get('/api/v1/payments').set({ Authorization: `Bearer ${token}x` }).expect(401);

    // The operator sets the endpoint's own secret, and deliveries arrive: signed, badly signed, and one whose job fails.
    const endpointSecret = track('endpoint webhook secret', randomSecret());
    await t.http().put(`/api/v1/ops/tenants/${tenantId}/webhook-secret`).set(operator).send({ secret: endpointSecret }).expect(204);
    const billing = await t.http().get(BILLING).set(auth).expect(200);
    const path = new URL(billing.body.webhook.url as string).pathname;
    const intent = await request(t.emulator.url).get(`/v1/payment_intents/${payment.body.stripePaymentIntentId}`).auth(currentKey, '').expect(200);

    const signed = stripeEvent();
    await deliver(t.url, path, signed, signStripePayload(endpointSecret, signed, nowSeconds())).expect(200);
    const badlySigned = stripeEvent();
    await deliver(t.url, path, badlySigned, `t=${nowSeconds()},v1=${'0'.repeat(64)},v0=${endpointSecret}`).expect(400);

    await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: currentKey }).expect(201);
    const failing = stripeEvent({ type: 'payment_intent.succeeded', data: { object: intent.body } });
    await deliver(t.url, path, failing, signStripePayload(PLATFORM_SECRET, failing, nowSeconds())).expect(200);
    await eventually(async () => {
      const rows: { status: string }[] = await database().query(`SELECT status FROM webhook_events WHERE stripe_event_id = $1`, [eventIdOf(failing)]);

      return rows[0]?.status === 'failed' ? rows[0] : undefined;
    }, 30_000);

    for (const [index, secret] of t.emulator.webhookSigningSecrets().entries()) {
      track(`registered endpoint secret ${index}`, secret);
    }
  }

  function database(): DataSource {
    return t.app.get(DataSource);
  }

  /** Returns the labels of the secrets found in the text. */
  function secretsIn(text: string): string[] {
    return [...secrets].filter(([, value]) => text.includes(value)).map(([label]) => label);
  }

  it('tracks the secrets of every flow', () => {
    expect([...secrets.keys()]).toEqual(
      expect.arrayContaining(['operator API token', 'tenant API token', 'owner password', 'session id', 'first secret key', 'restricted key', 'rotated secret key', 'endpoint webhook secret', 'platform webhook secret']),
    );
    expect([...secrets.keys()].some((label) => label.startsWith('registered endpoint secret'))).toBe(true);
  });

  it('writes no secret to the logs', () => {
    const logs = logLines.join('');

    expect(logLines.length).toBeGreaterThan(50);
    expect(logs).toContain('stripe_keys_invalid');
    expect(secretsIn(logs)).toEqual([]);
  });

  it('stores no secret in Redis', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    const dump: string[] = [];
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${TEST_QUEUE_PREFIX}*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          dump.push(key, await redisValue(redis, key));
        }
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    const text = dump.join('\n');

    // The failed job's reason and stack are there, so the search covers them.
    expect(text).toContain('failedReason');
    expect(text).toContain('stacktrace');
    expect(secretsIn(text)).toEqual([]);
  });

  it('stores no secret in any table', async () => {
    const tables: { table_name: string }[] = await database().query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    const found: string[] = [];
    for (const { table_name: table } of tables) {
      const rows: { row: string }[] = await database().query(`SELECT t::text AS row FROM "${table}" t`);
      for (const label of secretsIn(rows.map(({ row }) => row).join('\n'))) {
        found.push(`${table}: ${label}`);
      }
    }

    expect(tables.map(({ table_name: table }) => table)).toEqual(expect.arrayContaining(['outbox_events', 'audit_log', 'webhook_events', 'idempotency_keys']));
    expect(found).toEqual([]);
  });
});

async function redisValue(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  switch (type) {
    case 'string':
      return (await redis.get(key)) ?? '';
    case 'hash':
      return JSON.stringify(await redis.hgetall(key));
    case 'list':
      return (await redis.lrange(key, 0, -1)).join('\n');
    case 'set':
      return (await redis.smembers(key)).join('\n');
    case 'zset':
      return (await redis.zrange(key, 0, -1, 'WITHSCORES')).join('\n');
    case 'stream':
      return JSON.stringify(await redis.xrange(key, '-', '+'));
    default:
      return '';
  }
}
