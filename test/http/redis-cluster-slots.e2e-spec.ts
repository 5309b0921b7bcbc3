import { ALL_QUEUES } from '@app/common/queues/queue-names';
import calculateSlot from 'cluster-key-slot';
import Redis from 'ioredis';
import { OwnRedis, deliver, stripeEvent } from '../webhooks/webhook-helpers';
import { paymentsHelpers } from '../payments/payments-helpers';
import { TEST_QUEUE_PREFIX } from '../support/test-env';
import { TestApp, eventually, startTestApp } from '../support/test-app';

/** Prefix of the rate-limit counters: the queue prefix without its braces, so the counters spread over a cluster. */
const RATE_LIMIT_PREFIX = `${TEST_QUEUE_PREFIX.slice(1, -1)}:rate-limit`;
/** Rate-limit counters this suite makes the service write, by the segment after the prefix. */
const RATE_LIMIT_KINDS = ['api', 'login', 'webhook-signature-failures'];

/**
 * Runs every queue of the service (intake, the worker, the outbox relay, the
 * invoice jobs, every job scheduler) against a redis-server of the suite's
 * own, so that SCAN returns every key the service writes and nothing else. Redis
 * here has cluster support off, so slots are computed with cluster-key-slot,
 * the function ioredis' cluster client uses.
 */
describe('Redis keys and cluster slots', () => {
  let redis: OwnRedis;
  let t: TestApp;
  let keys: string[];

  beforeAll(async () => {
    redis = await OwnRedis.start();
    t = await startTestApp({ REDIS_URL: redis.url });
    const payments = paymentsHelpers(t);
    const tenant = await payments.connectedTenant();

    // A card payment: its webhook runs the webhook-events queue, its domain event the outbox relay and
    // domain-events, and its invoice the invoices queue.
    const payment = await payments.pay(tenant.auth);
    expect(payment.status).toBe(201);
    await eventually(async () => {
      const found = await payments.getPayment(tenant.auth, payment.body.id as string);

      return found.body.invoiceId ? true : undefined;
    }, 30_000);

    // A delivery with a bad signature writes the failed-signature rate-limit key.
    const billing = await t.http().get('/api/v1/settings/billing').set(tenant.auth).expect(200);
    await deliver(t.url, new URL(billing.body.webhook.url as string).pathname, stripeEvent(), 't=1,v1=00').expect(400);
    // A failed login writes the per-account and per-address counters.
    await t.http().post('/api/v1/auth/login').send({ tenant: 'no-such-tenant', email: 'nobody@example.com', password: 'not-the-password-1' }).expect(401);

    const client = new Redis(redis.url);
    try {
      // The maintenance jobs run once at worker start; wait until both schedulers have run.
      await eventually(async () => {
        const all = await scanAll(client);

        return all.some((key) => key.includes(':maintenance:repeat:create-partitions')) && all.some((key) => key.includes(':maintenance:repeat:drop-expired-partitions'))
          ? true
          : undefined;
      });
      keys = await scanAll(client);
    } finally {
      client.disconnect();
    }
  });

  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  it.each(['create-partitions', 'drop-expired-partitions'])('completes the %s job on the worker', async (job) => {
    const series = `billing_job_duration_seconds_count{queue="maintenance",name="${job}",result="completed"}`;
    const metrics = await eventually(async () => {
      const response = await t.http().get('/metrics');

      return response.text.includes(series) ? response.text : undefined;
    }, 30_000);

    expect(metrics).toContain(series);
    expect(metrics).not.toContain('billing_job_failures_total{queue="maintenance"');
  });

  it('writes every key under the queue or rate-limit prefix', () => {
    const outside = keys.filter((key) => !key.startsWith(`${TEST_QUEUE_PREFIX}:`) && rateLimitKind(key) === null);

    expect(keys.length).toBeGreaterThan(0);
    expect(outside).toEqual([]);
  });

  it.each([...ALL_QUEUES])('keeps queue %s in one slot', (queue) => {
    const queueKeys = keys.filter((key) => key.startsWith(`${TEST_QUEUE_PREFIX}:${queue}:`));
    const slots = new Set(queueKeys.map((key) => calculateSlot(key)));

    expect(queueKeys.length).toBeGreaterThan(0);
    expect([...slots]).toEqual([calculateSlot(TEST_QUEUE_PREFIX)]);
  });

  it('keeps job scheduler keys in the queue slot', () => {
    const schedulerKeys = keys.filter((key) => key.includes(':repeat:'));

    expect(schedulerKeys.length).toBeGreaterThanOrEqual(6);
    expect(new Set(schedulerKeys.map((key) => calculateSlot(key)))).toEqual(new Set([calculateSlot(TEST_QUEUE_PREFIX)]));
  });

  it('writes only queue keys under the queue prefix', () => {
    const queueNames = new Set<string>(ALL_QUEUES);
    const otherKinds = keys
      .filter((key) => key.startsWith(`${TEST_QUEUE_PREFIX}:`))
      .map((key) => key.slice(TEST_QUEUE_PREFIX.length + 1).split(':')[0])
      .filter((kind) => !queueNames.has(kind));

    expect(otherKinds).toEqual([]);
  });

  it('writes only the known rate-limit counters', () => {
    const kinds = new Set(keys.map(rateLimitKind).filter((kind) => kind !== null));

    expect([...kinds].sort()).toEqual(RATE_LIMIT_KINDS);
  });

  it('keeps the login counters in one slot', () => {
    const loginKeys = keys.filter((key) => rateLimitKind(key) === 'login');

    expect(loginKeys.length).toBe(2);
    expect(new Set(loginKeys.map((key) => calculateSlot(key))).size).toBe(1);
  });

  it('keeps each API counter group in one slot', () => {
    const apiKeys = keys.filter((key) => rateLimitKind(key) === 'api');
    const groups = new Map<string, Set<number>>();
    for (const key of apiKeys) {
      const tag = /^\{([^}]+)\}/.exec(key)?.[1] ?? key;
      groups.set(tag, (groups.get(tag) ?? new Set()).add(calculateSlot(key)));
    }

    expect(apiKeys.length).toBeGreaterThan(0);
    for (const slots of groups.values()) {
      expect(slots.size).toBe(1);
    }
  });
});

/** Returns the counter kind of a rate-limit key (`api`, `login`, …), or null for any other key. */
function rateLimitKind(key: string): string | null {
  const unbraced = key.startsWith('{') ? key.slice(1) : key;
  if (!unbraced.startsWith(`${RATE_LIMIT_PREFIX}:`)) {
    return null;
  }

  return unbraced.slice(RATE_LIMIT_PREFIX.length + 1).split(/[:}]/)[0];
}

async function scanAll(client: Redis): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');

  return found.sort();
}
