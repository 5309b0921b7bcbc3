import { createOperatorAuth, createTenant } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';
import {
  CSRF,
  LOGIN_PATH,
  LOGOUT_PATH,
  ME_PATH,
  createOperatorUser,
  createUser,
  loginCookie,
  sessionCookieOf,
  setCookieHeader,
  strongPassword,
} from './tenancy-helpers';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ RATE_LIMIT_LOGIN: '3/15m' });
});

afterAll(async () => {
  await t?.close();
});

describe('POST /api/v1/auth/login', () => {
  it('logs a tenant user in and answers the me body', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId, 'admin');

    const response = await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: user.password });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      via: 'session',
      user: { id: user.id, email: user.email },
      tenant: { id: tenant.tenantId, slug: tenant.slug, name: `Tenant ${tenant.slug}` },
      role: 'admin',
    });
  });

  it('sets an HttpOnly, SameSite=Strict session cookie on path /', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);

    const response = await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: user.password });
    const cookie = setCookieHeader(response) ?? '';

    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; Max-Age=43200/);
    expect(cookie).not.toMatch(/; Secure/);
  });

  it('accepts the email in any case', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);

    const response = await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: ` ${user.email.toUpperCase()} `, password: user.password });

    expect(response.status).toBe(200);
  });

  it('logs an operator in without a tenant', async () => {
    const operator = await createOperatorUser(t);

    const response = await t.http().post(LOGIN_PATH).send({ email: operator.email, password: operator.password });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ via: 'session', user: { id: operator.id, email: operator.email }, tenant: null, role: 'operator' });
  });

  it('answers a wrong password exactly like an unknown tenant', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);

    const wrongPassword = await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: strongPassword() });
    const unknownTenant = await t.http().post(LOGIN_PATH).send({ tenant: 'no-such-tenant', email: user.email, password: user.password });

    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body.code).toBe('unauthenticated');
    expect(unknownTenant.status).toBe(401);
    expect(unknownTenant.body).toEqual(wrongPassword.body);
  });

  it('answers an unknown email like a wrong password', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);

    const wrongPassword = await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: strongPassword() });
    const unknownEmail = await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: 'nobody@example.com', password: user.password });

    expect(unknownEmail.status).toBe(401);
    expect(unknownEmail.body).toEqual(wrongPassword.body);
  });

  it('rejects a user of another tenant', async () => {
    const tenant = await createTenant(t);
    const other = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);

    const response = await t.http().post(LOGIN_PATH).send({ tenant: other.slug, email: user.email, password: user.password });

    expect(response.status).toBe(401);
  });

  it('rejects a tenant user logging in as an operator', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);

    const response = await t.http().post(LOGIN_PATH).send({ email: user.email, password: user.password });

    expect(response.status).toBe(401);
  });

  it('sets no cookie on a failed login', async () => {
    const response = await t.http().post(LOGIN_PATH).send({ tenant: 'no-such-tenant', email: 'nobody@example.com', password: strongPassword() });

    expect(setCookieHeader(response)).toBeUndefined();
  });

  it('answers 400 for a missing password', async () => {
    const response = await t.http().post(LOGIN_PATH).send({ tenant: 'acme', email: 'owner@example.com' });

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('password');
  });

  it('answers 429 after the configured number of failures for an account', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);
    for (let attempt = 0; attempt < 3; attempt++) {
      await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: strongPassword() }).expect(401);
    }

    const response = await t.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: user.password });

    expect(response.status).toBe(429);
    expect(response.body.code).toBe('rate_limited');
    expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('clears the failures of an account after a successful login', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);
    const wrong = { tenant: tenant.slug, email: user.email, password: strongPassword() };
    await t.http().post(LOGIN_PATH).send(wrong).expect(401);
    await t.http().post(LOGIN_PATH).send(wrong).expect(401);
    await t.http().post(LOGIN_PATH).send({ ...wrong, password: user.password }).expect(200);
    await t.http().post(LOGIN_PATH).send(wrong).expect(401);

    const response = await t.http().post(LOGIN_PATH).send({ ...wrong, password: user.password });

    expect(response.status).toBe(200);
  });
});

describe('session cookie', () => {
  it('authenticates GET /auth/me', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId, 'staff');
    const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });

    const response = await t.http().get(ME_PATH).set('Cookie', cookie);

    expect(response.status).toBe(200);
    expect(response.body.via).toBe('session');
    expect(response.body.role).toBe('staff');
  });

  it('answers 403 csrf_failed to a cookie write without X-Requested-With', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);
    const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });

    const response = await t.http().post(LOGOUT_PATH).set('Cookie', cookie);

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('csrf_failed');
  });

  it('answers 403 csrf_failed to a cookie write with the wrong X-Requested-With', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);
    const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });

    const response = await t.http().post(LOGOUT_PATH).set('Cookie', cookie).set('X-Requested-With', 'XMLHttpRequest');

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('csrf_failed');
  });

  it('logs out: 204, the cookie is cleared and the session no longer works', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);
    const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });

    const logout = await t.http().post(LOGOUT_PATH).set('Cookie', cookie).set(CSRF);
    const after = await t.http().get(ME_PATH).set('Cookie', cookie);

    expect(logout.status).toBe(204);
    expect(setCookieHeader(logout)).toMatch(/^billing_session=;.*Expires=Thu, 01 Jan 1970/);
    expect(after.status).toBe(401);
  });

  it('answers 401 for an unknown session cookie', async () => {
    const response = await t.http().get(ME_PATH).set('Cookie', 'billing_session=forged-session-id');

    expect(response.status).toBe(401);
    expect(response.body.code).toBe('unauthenticated');
  });

  it('keeps an operator session out of tenant routes', async () => {
    const operator = await createOperatorUser(t);
    const cookie = await loginCookie(t, { email: operator.email, password: operator.password });

    const response = await t.http().get('/api/v1/audit-log').set('Cookie', cookie);

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('forbidden');
  });

  it('lets an operator session use ops routes', async () => {
    const operator = await createOperatorUser(t);
    const cookie = await loginCookie(t, { email: operator.email, password: operator.password });

    const response = await t.http().get('/api/v1/ops/tenants').set('Cookie', cookie);

    expect(response.status).toBe(200);
  });

  it('keeps a tenant session out of ops routes', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId, 'owner');
    const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });

    const response = await t.http().get('/api/v1/ops/tenants').set('Cookie', cookie);

    expect(response.status).toBe(403);
  });

  it('prefers the Authorization header over the cookie', async () => {
    const tenant = await createTenant(t, 'staff');
    const operator = await createOperatorUser(t);
    const cookie = await loginCookie(t, { email: operator.email, password: operator.password });

    const response = await t.http().get(ME_PATH).set('Cookie', cookie).set(tenant.auth);

    expect(response.body.via).toBe('token');
    expect(response.body.role).toBe('staff');
  });
});

describe('secure session cookie', () => {
  let secure: TestApp;

  beforeAll(async () => {
    secure = await startTestApp({ PUBLIC_BASE_URL: 'https://billing.example.com' });
  });

  afterAll(async () => {
    await secure?.close();
  });

  it('marks the cookie Secure when PUBLIC_BASE_URL is https', async () => {
    const tenant = await createTenant(secure);
    const user = await createUser(secure, tenant.tenantId);

    const response = await secure.http().post(LOGIN_PATH).send({ tenant: tenant.slug, email: user.email, password: user.password });

    expect(setCookieHeader(response)).toMatch(/; Secure/);
  });
});

describe('GET /api/v1/auth/me', () => {
  it('answers 401 without credentials', async () => {
    const response = await t.http().get(ME_PATH);

    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.code).toBe('unauthenticated');
  });

  it('works for an operator token', async () => {
    const operator = await createOperatorAuth(t);

    const response = await t.http().get(ME_PATH).set(operator);

    expect(response.status).toBe(200);
  });
});

describe('session ids', () => {
  it('differ between two logins of the same user', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId);
    const body = { tenant: tenant.slug, email: user.email, password: user.password };

    const first = sessionCookieOf(await t.http().post(LOGIN_PATH).send(body));
    const second = sessionCookieOf(await t.http().post(LOGIN_PATH).send(body));

    expect(first).not.toBe(second);
  });
});

describe('OpenAPI document', () => {
  it.each([
    ['post', '/api/v1/auth/login'],
    ['post', '/api/v1/auth/logout'],
    ['get', '/api/v1/auth/me'],
    ['get', '/api/v1/audit-log'],
    ['post', '/api/v1/ops/tenants'],
    ['get', '/api/v1/ops/tenants'],
    ['get', '/api/v1/ops/tenants/{tenantId}'],
    ['patch', '/api/v1/ops/tenants/{tenantId}'],
    ['post', '/api/v1/ops/tenants/{tenantId}/live-mode'],
    ['post', '/api/v1/ops/tenants/{tenantId}/users'],
    ['post', '/api/v1/ops/tokens'],
    ['get', '/api/v1/ops/tokens'],
    ['delete', '/api/v1/ops/tokens/{id}'],
    ['get', '/api/v1/ops/audit-log'],
  ])('documents %s %s', async (method, path) => {
    const response = await t.http().get('/api/docs-json');

    expect(response.body.paths[path]?.[method]).toBeDefined();
  });

  it('declares the session cookie security scheme', async () => {
    const response = await t.http().get('/api/docs-json');

    expect(response.body.components.securitySchemes.cookie).toEqual({ type: 'apiKey', in: 'cookie', name: 'billing_session' });
  });
});
