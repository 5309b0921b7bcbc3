import { DataSource } from 'typeorm';
import { createOperatorAuth, createTenant } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';
import { MISSING_ID } from './tenancy-helpers';

const TOKENS_PATH = '/api/v1/ops/tokens';

let t: TestApp;
let operator: { Authorization: string };

beforeAll(async () => {
  t = await startTestApp();
  operator = await createOperatorAuth(t);
});

afterAll(async () => {
  await t?.close();
});

describe('POST /api/v1/ops/tokens', () => {
  it('returns the token once with its fields', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().post(TOKENS_PATH).set(operator).send({ tenantId: tenant.tenantId, role: 'admin', label: 'reporting' });

    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.any(String),
      token: expect.stringMatching(/^bst_[A-Za-z0-9_-]{43}$/),
      role: 'admin',
      tenantId: tenant.tenantId,
      label: 'reporting',
      createdAt: expect.any(String),
    });
  });

  it('stores only the SHA-256 digest of the token', async () => {
    const created = await t.http().post(TOKENS_PATH).set(operator).send({ role: 'operator', label: 'digest check' });

    const rows: { token_hash: string }[] = await t.app.get(DataSource).query('SELECT token_hash FROM api_tokens WHERE id = $1', [created.body.id]);

    expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0].token_hash).not.toContain(created.body.token);
  });

  it('creates an operator token without a tenant', async () => {
    const response = await t.http().post(TOKENS_PATH).set(operator).send({ role: 'operator', label: 'second operator' });

    expect(response.status).toBe(201);
    expect(response.body.tenantId).toBeNull();
  });

  it('answers 400 on tenantId for an operator token with a tenant', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().post(TOKENS_PATH).set(operator).send({ tenantId: tenant.tenantId, role: 'operator', label: 'bad' });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'tenantId', message: 'must be absent for role operator' }]);
  });

  it('answers 400 on tenantId for a tenant role without a tenant', async () => {
    const response = await t.http().post(TOKENS_PATH).set(operator).send({ role: 'staff', label: 'bad' });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'tenantId', message: 'is required for role staff' }]);
  });

  it('answers 400 for an unknown role', async () => {
    const response = await t.http().post(TOKENS_PATH).set(operator).send({ role: 'superuser', label: 'bad' });

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('role');
  });

  it('answers 404 for an unknown tenant', async () => {
    const response = await t.http().post(TOKENS_PATH).set(operator).send({ tenantId: MISSING_ID, role: 'owner', label: 'ghost' });

    expect(response.status).toBe(404);
    expect(response.body.code).toBe('not_found');
  });

  it('answers 403 to a tenant owner token', async () => {
    const tenant = await createTenant(t, 'owner');

    const response = await t.http().post(TOKENS_PATH).set(tenant.auth).send({ tenantId: tenant.tenantId, role: 'owner', label: 'escalate' });

    expect(response.status).toBe(403);
  });
});

describe('GET /api/v1/ops/tokens', () => {
  it('lists a tenant\'s tokens without the token and with lastUsedAt', async () => {
    const tenant = await createTenant(t);
    await t.http().get('/api/v1/auth/me').set(tenant.auth).expect(200);

    const response = await t.http().get(TOKENS_PATH).query({ tenantId: tenant.tenantId }).set(operator);

    expect(response.status).toBe(200);
    expect(response.body.data).toHaveLength(1);
    expect(response.body.data[0]).toEqual({
      id: expect.any(String),
      role: 'owner',
      tenantId: tenant.tenantId,
      label: 'owner token',
      createdAt: expect.any(String),
      lastUsedAt: expect.any(String),
      revokedAt: null,
    });
    expect(response.text).not.toContain(tenant.token);
    expect(response.text).not.toContain('tokenHash');
  });

  it('shows lastUsedAt as null for an unused token', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().get(TOKENS_PATH).query({ tenantId: tenant.tenantId }).set(operator);

    expect(response.body.data[0].lastUsedAt).toBeNull();
  });

  it('lists only the given tenant\'s tokens', async () => {
    const tenant = await createTenant(t);
    const other = await createTenant(t);

    const response = await t.http().get(TOKENS_PATH).query({ tenantId: tenant.tenantId }).set(operator);

    expect(response.body.data.map((token: { tenantId: string }) => token.tenantId)).not.toContain(other.tenantId);
  });

  it('answers 400 for a malformed tenantId', async () => {
    const response = await t.http().get(TOKENS_PATH).query({ tenantId: 'nope' }).set(operator);

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('tenantId');
  });
});

describe('DELETE /api/v1/ops/tokens/:id', () => {
  it('revokes a token, which then gets 401', async () => {
    const tenant = await createTenant(t);
    const listed = await t.http().get(TOKENS_PATH).query({ tenantId: tenant.tenantId }).set(operator);

    const revoked = await t.http().delete(`${TOKENS_PATH}/${listed.body.data[0].id}`).set(operator);
    const after = await t.http().get('/api/v1/auth/me').set(tenant.auth);

    expect(revoked.status).toBe(204);
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('unauthenticated');
  });

  it('lists a revoked token with revokedAt', async () => {
    const tenant = await createTenant(t);
    const listed = await t.http().get(TOKENS_PATH).query({ tenantId: tenant.tenantId }).set(operator);
    await t.http().delete(`${TOKENS_PATH}/${listed.body.data[0].id}`).set(operator).expect(204);

    const response = await t.http().get(TOKENS_PATH).query({ tenantId: tenant.tenantId }).set(operator);

    expect(response.body.data[0].revokedAt).toEqual(expect.any(String));
  });

  it('answers 204 again for a token already revoked', async () => {
    const created = await t.http().post(TOKENS_PATH).set(operator).send({ role: 'operator', label: 'twice' });
    await t.http().delete(`${TOKENS_PATH}/${created.body.id}`).set(operator).expect(204);

    const response = await t.http().delete(`${TOKENS_PATH}/${created.body.id}`).set(operator);

    expect(response.status).toBe(204);
  });

  it('answers 404 for a missing token', async () => {
    const response = await t.http().delete(`${TOKENS_PATH}/${MISSING_ID}`).set(operator);

    expect(response.status).toBe(404);
  });

  it('answers 404 for a malformed id', async () => {
    const response = await t.http().delete(`${TOKENS_PATH}/12345`).set(operator);

    expect(response.status).toBe(404);
  });
});

describe('bearer authentication', () => {
  it('answers 401 for an unknown token', async () => {
    const response = await t.http().get('/api/v1/auth/me').set({ Authorization: 'Bearer bst_unknown' });

    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('answers 401 for a non-bearer scheme', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().get('/api/v1/auth/me').set({ Authorization: `Basic ${tenant.token}` });

    expect(response.status).toBe(401);
  });

  it('describes a tenant token in /auth/me', async () => {
    const tenant = await createTenant(t, 'staff');

    const response = await t.http().get('/api/v1/auth/me').set(tenant.auth);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ via: 'token', user: null, tenant: { id: tenant.tenantId, slug: tenant.slug, name: `Tenant ${tenant.slug}` }, role: 'staff' });
  });

  it('describes an operator token in /auth/me', async () => {
    const response = await t.http().get('/api/v1/auth/me').set(operator);

    expect(response.body).toEqual({ via: 'token', user: null, tenant: null, role: 'operator' });
  });

  it('lets a bearer write without the CSRF header', async () => {
    const response = await t.http().post(TOKENS_PATH).set(operator).send({ role: 'operator', label: 'no csrf header' });

    expect(response.status).toBe(201);
  });
});
