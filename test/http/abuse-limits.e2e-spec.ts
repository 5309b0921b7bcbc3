import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { durationText } from '@app/common/time/seconds-text';
import { hash } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createOperatorAuth, createTenant } from '../support/factories';
import { TestApp, freePort, startTestApp } from '../support/test-app';
import { LOGIN_PATH, ME_PATH, createUser, loginCookie, strongPassword } from '../tenancy/tenancy-helpers';
import { connectedEndpoint, deliver, nowSeconds, stripeEvent } from '../webhooks/webhook-helpers';

/** Returns a client address of its own for each test, sent through X-Forwarded-For, which the service trusts from loopback. */
function clientAddress(): string {
  const bytes = randomBytes(3);

  return `10.${bytes[0]}.${bytes[1]}.${bytes[2]}`;
}

async function metricValue(t: TestApp, name: string, labels = ''): Promise<number> {
  const response = await t.http().get('/metrics').expect(200);
  const line = response.text.split('\n').find((candidate) => candidate.startsWith(`${name}${labels} `));

  return line ? Number(line.split(' ')[1]) : 0;
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

describe('abuse limits', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      RATE_LIMIT_API: '3/1m',
      RATE_LIMIT_LOGIN: '6/15m',
      RATE_LIMIT_LOGIN_IP: '8/15m',
      RATE_LIMIT_WEBHOOK_FAILURES: '4/1m',
    });
  });

  afterAll(async () => {
    await t?.close();
  });

  describe('API calls per token or session', () => {
    it('answers 429 with Retry-After past the limit', async () => {
      const tenant = await createTenant(t);
      for (let call = 0; call < 3; call++) {
        await t.http().get(ME_PATH).set(tenant.auth).expect(200);
      }

      const response = await t.http().get(ME_PATH).set(tenant.auth);

      expect(response.status).toBe(429);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({ status: 429, code: 'rate_limited' });
      expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(response.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(response.body.detail).toMatch(/^More than 3 requests with this API token or session in 1 minute\. Try again in (\d+ seconds?|1 minute)\.$/);
    });

    it('answers 401 to a revoked token past the limit', async () => {
      const tenant = await createTenant(t);
      await t.http().get(ME_PATH).set(tenant.auth).expect(200);
      await t.app.get(DataSource).query(`UPDATE api_tokens SET revoked_at = now() WHERE tenant_id = $1`, [tenant.tenantId]);

      const statuses: number[] = [];
      for (let call = 0; call < 5; call++) {
        statuses.push((await t.http().get(ME_PATH).set(tenant.auth)).status);
      }

      expect(statuses).toEqual([401, 401, 401, 401, 401]);
    });

    it('answers 401 to an unknown token past the limit', async () => {
      const auth = { Authorization: `Bearer bst_${randomBytes(32).toString('base64url')}` };

      const responses: request.Response[] = [];
      for (let call = 0; call < 5; call++) {
        responses.push(await t.http().get(ME_PATH).set(auth));
      }

      expect(responses.map((response) => response.status)).toEqual([401, 401, 401, 401, 401]);
      expect(responses[4].body.code).toBe('unauthenticated');
    });

    it('answers 401 to an ended session past the limit', async () => {
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.tenantId);
      const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });
      await t.app.get(DataSource).query(`UPDATE sessions SET revoked_at = now() WHERE user_id = $1`, [user.id]);

      const statuses: number[] = [];
      for (let call = 0; call < 5; call++) {
        statuses.push((await t.http().get(ME_PATH).set('Cookie', cookie)).status);
      }

      expect(statuses).toEqual([401, 401, 401, 401, 401]);
    });

    it('counts no rejected request toward the token', async () => {
      const tenant = await createTenant(t);
      await t.app.get(DataSource).query(`UPDATE api_tokens SET revoked_at = now() WHERE tenant_id = $1`, [tenant.tenantId]);
      for (let call = 0; call < 3; call++) {
        await t.http().get(ME_PATH).set(tenant.auth).expect(401);
      }
      await t.app.get(DataSource).query(`UPDATE api_tokens SET revoked_at = NULL WHERE tenant_id = $1`, [tenant.tenantId]);

      const response = await t.http().get(ME_PATH).set(tenant.auth);

      expect(response.status).toBe(200);
    });

    it('counts every route of a token together', async () => {
      const tenant = await createTenant(t);
      await t.http().get(ME_PATH).set(tenant.auth).expect(200);
      await t.http().get('/api/v1/payments').set(tenant.auth).expect(200);
      await t.http().get('/api/v1/invoices').set(tenant.auth).expect(200);

      const response = await t.http().get('/api/v1/customers').set(tenant.auth);

      expect(response.status).toBe(429);
    });

    it('counts each token on its own', async () => {
      const noisy = await createTenant(t);
      const quiet = await createTenant(t);
      for (let call = 0; call < 4; call++) {
        await t.http().get(ME_PATH).set(noisy.auth);
      }

      const response = await t.http().get(ME_PATH).set(quiet.auth);

      expect(response.status).toBe(200);
    });

    it('limits a session cookie', async () => {
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.tenantId);
      const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });
      for (let call = 0; call < 3; call++) {
        await t.http().get(ME_PATH).set('Cookie', cookie).expect(200);
      }

      const response = await t.http().get(ME_PATH).set('Cookie', cookie);

      expect(response.status).toBe(429);
      expect(response.body.code).toBe('rate_limited');
    });

    it('never limits the probes', async () => {
      for (let call = 0; call < 5; call++) {
        await t.http().get('/health/live').expect(200);
      }
    });
  });

  describe('failed logins', () => {
    it('delays attempts past half the account limit, longer after each failure', async () => {
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.tenantId);
      const wrong = { tenant: tenant.slug, email: user.email, password: strongPassword() };
      const login = (body: object) => t.http().post(LOGIN_PATH).set('X-Forwarded-For', clientAddress()).send(body);
      for (let attempt = 0; attempt < 3; attempt++) {
        await login(wrong).expect(401);
      }

      const delayed = await login({ ...wrong, password: user.password });
      expect(delayed.status).toBe(429);
      expect(delayed.body.code).toBe('rate_limited');
      expect(delayed.headers['retry-after']).toBe('1');
      expect(delayed.body.detail).toMatch(/Try again in 1 second\.$/);

      await sleep(1_100);
      await login(wrong).expect(401);
      const longer = await login(wrong);
      expect(longer.status).toBe(429);
      expect(longer.headers['retry-after']).toBe('2');
      expect(longer.body.detail).toMatch(/Try again in 2 seconds\.$/);
    });

    it('locks the account for the window at the limit', async () => {
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.tenantId);
      const wrong = { tenant: tenant.slug, email: user.email, password: strongPassword() };
      const login = (body: object) => t.http().post(LOGIN_PATH).set('X-Forwarded-For', clientAddress()).send(body);
      // 3 free failures, then waits of 1, 2 s before the 6th failure locks the account.
      await login(wrong).expect(401);
      await login(wrong).expect(401);
      await login(wrong).expect(401);
      for (const waitMs of [1_100, 2_100]) {
        await sleep(waitMs);
        await login(wrong).expect(401);
      }
      await sleep(4_100);
      await login(wrong).expect(401);

      const locked = await login({ ...wrong, password: user.password });

      expect(locked.status).toBe(429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
      expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(900);
      expect(locked.body.detail).toMatch(/Try again in 1[45] minutes\.$/);
    }, 30_000);

    it('limits failures per client address across accounts', async () => {
      const address = clientAddress();
      const login = (body: object) => t.http().post(LOGIN_PATH).set('X-Forwarded-For', address).send(body);
      for (let attempt = 0; attempt < 4; attempt++) {
        await login({ tenant: 'no-such-tenant', email: `nobody-${attempt}@example.com`, password: strongPassword() }).expect(401);
      }
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.tenantId);

      const fromAddress = await login({ tenant: tenant.slug, email: user.email, password: user.password });
      const elsewhere = await t.http().post(LOGIN_PATH).set('X-Forwarded-For', clientAddress()).send({ tenant: tenant.slug, email: user.email, password: user.password });

      expect(fromAddress.status).toBe(429);
      expect(fromAddress.body.code).toBe('rate_limited');
      expect(elsewhere.status).toBe(200);
    });

    it('counts rejected logins in the metrics', async () => {
      const before = await metricValue(t, 'billing_rate_limit_rejections_total', '{limit="login_ip"}');
      const address = clientAddress();
      for (let attempt = 0; attempt < 4; attempt++) {
        await t.http().post(LOGIN_PATH).set('X-Forwarded-For', address).send({ email: `nobody-${attempt}@example.com`, password: strongPassword() });
      }

      await t.http().post(LOGIN_PATH).set('X-Forwarded-For', address).send({ email: 'nobody@example.com', password: strongPassword() }).expect(429);

      expect(await metricValue(t, 'billing_rate_limit_rejections_total', '{limit="login_ip"}')).toBe(before + 1);
    });
  });

  describe('password hashes', () => {
    it('rehashes a weaker argon2id hash at login', async () => {
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.tenantId);
      const dataSource = t.app.get(DataSource);
      const weak = await hash(user.password, { algorithm: 2, memoryCost: 4_096, timeCost: 1, parallelism: 1 });
      await dataSource.query(`UPDATE users SET password_hash = $2 WHERE id = $1`, [user.id, weak]);

      await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: user.password }).expect(200);

      const [row] = (await dataSource.query(`SELECT password_hash FROM users WHERE id = $1`, [user.id])) as { password_hash: string }[];
      expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: user.password }).expect(200);
    });
  });

  describe('sessions and tokens', () => {
    it('rejects an expired session', async () => {
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.tenantId);
      const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });
      await t.http().get(ME_PATH).set('Cookie', cookie).expect(200);

      await t.app.get(DataSource).query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [user.id]);

      const response = await t.http().get(ME_PATH).set('Cookie', cookie);
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('unauthenticated');
    });

    it('writes a token last-used time at most once a minute', async () => {
      const tenant = await createTenant(t);
      const dataSource = t.app.get(DataSource);
      const lastUsed = async () => {
        const [row] = (await dataSource.query(`SELECT last_used_at FROM api_tokens WHERE tenant_id = $1`, [tenant.tenantId])) as { last_used_at: Date | null }[];

        return row.last_used_at;
      };
      const recent = new Date(Date.now() - 30_000);
      const old = new Date(Date.now() - 90_000);

      await dataSource.query(`UPDATE api_tokens SET last_used_at = $2 WHERE tenant_id = $1`, [tenant.tenantId, recent]);
      await t.http().get(ME_PATH).set(tenant.auth).expect(200);
      expect(await lastUsed()).toEqual(recent);

      await dataSource.query(`UPDATE api_tokens SET last_used_at = $2 WHERE tenant_id = $1`, [tenant.tenantId, old]);
      await t.http().get(ME_PATH).set(tenant.auth).expect(200);
      expect((await lastUsed())?.getTime()).toBeGreaterThan(old.getTime() + 60_000);
    });
  });

  describe('failed webhook signatures', () => {
    it('counts one spike when half the limit is reached', async () => {
      const endpoint = await connectedEndpoint(t, await createOperatorAuth(t));
      const before = await metricValue(t, 'billing_webhook_signature_failure_spikes_total');
      const badDelivery = () => {
        const body = stripeEvent();

        return deliver(t.url, endpoint.path, body, signStripePayload(`whsec_${randomBytes(24).toString('hex')}`, body, nowSeconds()));
      };

      await badDelivery().expect(400);
      expect(await metricValue(t, 'billing_webhook_signature_failure_spikes_total')).toBe(before);
      await badDelivery().expect(400);
      expect(await metricValue(t, 'billing_webhook_signature_failure_spikes_total')).toBe(before + 1);
      await badDelivery().expect(400);
      expect(await metricValue(t, 'billing_webhook_signature_failure_spikes_total')).toBe(before + 1);
    });
  });

  describe('failed webhook signatures past the limit', () => {
    it('states the window and the wait in words', async () => {
      const endpoint = await connectedEndpoint(t, await createOperatorAuth(t));
      const badDelivery = () => {
        const body = stripeEvent();

        return deliver(t.url, endpoint.path, body, signStripePayload(`whsec_${randomBytes(24).toString('hex')}`, body, nowSeconds()));
      };
      for (let attempt = 0; attempt < 4; attempt++) {
        await badDelivery().expect(400);
      }

      const limited = await badDelivery();

      expect(limited.status).toBe(429);
      expect(limited.body.detail).toMatch(/^More than 4 failed signatures on this endpoint in 1 minute\. Try again in (\d+ seconds?|1 minute)\.$/);
      expect(limited.body.detail).toContain(`Try again in ${durationText(Number(limited.headers['retry-after']))}.`);
    });
  });

  describe('headers', () => {
    it('sends helmet headers', async () => {
      const response = await t.http().get('/health/live').expect(200);

      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      expect(response.headers['x-powered-by']).toBeUndefined();
    });

    it('allows no foreign origin', async () => {
      const tenant = await createTenant(t);

      const simple = await t.http().get(ME_PATH).set(tenant.auth).set('Origin', 'https://attacker.example');
      const preflight = await t
        .http()
        .options('/api/v1/payments')
        .set('Origin', 'https://attacker.example')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');

      expect(simple.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
    });
  });
});

describe('abuse limits without Redis', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ APP_ROLE: 'api', RATE_LIMIT_API: '1/1m', RATE_LIMIT_LOGIN: '1/15m', REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('lets API calls and logins through and counts the store errors', async () => {
    const before = await metricValue(t, 'billing_rate_limit_store_errors_total', '{limit="api"}');
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);

    for (let call = 0; call < 3; call++) {
      await t.http().get(ME_PATH).set(tenant.auth).expect(200);
    }
    await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: strongPassword() }).expect(401);
    await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: user.password }).expect(200);

    expect(await metricValue(t, 'billing_rate_limit_store_errors_total', '{limit="api"}')).toBe(before + 3);
  });
});

describe('abuse limits across app instances', () => {
  it('shares one token count between two apps', async () => {
    const first = await startTestApp({ APP_ROLE: 'api', RATE_LIMIT_API: '2/1m' });
    const second = await startTestApp({ APP_ROLE: 'api', RATE_LIMIT_API: '2/1m' }, first.emulator);
    try {
      const tenant = await createTenant(first);
      await request(first.url).get(ME_PATH).set(tenant.auth).expect(200);
      await request(second.url).get(ME_PATH).set(tenant.auth).expect(200);

      const response = await request(first.url).get(ME_PATH).set(tenant.auth);

      expect(response.status).toBe(429);
    } finally {
      await second.close();
      await first.close();
    }
  });
});
