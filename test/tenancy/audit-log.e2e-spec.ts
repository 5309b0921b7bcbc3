import { TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { createOperatorAuth, createTenant, createToken } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';
import { CSRF, createOperatorUser, createUser, loginCookie } from './tenancy-helpers';

const AUDIT_PATH = '/api/v1/audit-log';
const OPS_AUDIT_PATH = '/api/v1/ops/audit-log';

interface AuditEntry {
  id: string;
  at: string;
  actor: { kind: string; id: string | null; label: string };
  action: string;
  details: Record<string, unknown>;
}

let t: TestApp;
let operator: { Authorization: string };

beforeAll(async () => {
  t = await startTestApp();
  operator = await createOperatorAuth(t);
});

afterAll(async () => {
  await t?.close();
});

describe('GET /api/v1/audit-log', () => {
  it('lists the tenant\'s entries newest first in the contract shape', async () => {
    const tenant = await createTenant(t);
    await t.http().post(`/api/v1/ops/tenants/${tenant.tenantId}/live-mode`).set(operator).send({ allowed: true }).expect(200);

    const response = await t.http().get(AUDIT_PATH).set(tenant.auth);

    expect(response.status).toBe(200);
    expect(response.body.nextCursor).toBeNull();
    expect(response.body.data.map((entry: AuditEntry) => entry.action)).toEqual(['tenant.live_mode_changed', 'token.created', 'tenant.created']);
    expect(response.body.data[0]).toEqual({
      id: expect.any(String),
      tenantId: tenant.tenantId,
      at: expect.any(String),
      actor: { kind: 'operator', id: expect.any(String), label: 'test operator' },
      action: 'tenant.live_mode_changed',
      details: { allowed: true },
    });
  });

  it('names a system actor for work outside a request', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().get(AUDIT_PATH).set(tenant.auth);

    const created = response.body.data.find((entry: AuditEntry) => entry.action === 'tenant.created');
    expect(created.actor).toEqual({ kind: 'system', id: null, label: 'system' });
  });

  it('shows an actor given to the facade', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.tenantId, 'owner');
    const cookie = await loginCookie(t, { tenant: tenant.slug, email: user.email, password: user.password });
    await t.app.get<TenancyFacade>(TENANCY_FACADE).recordAudit({
      tenantId: tenant.tenantId,
      action: 'stripe.connected',
      details: { mode: 'test' },
      actor: { kind: 'user', id: user.id, label: user.email },
    });

    const response = await t.http().get(AUDIT_PATH).set('Cookie', cookie);

    expect(response.status).toBe(200);
    expect(response.body.data[0].actor).toEqual({ kind: 'user', id: user.id, label: user.email });
    expect(response.body.data[0].details).toEqual({ mode: 'test' });
  });

  it('hides another tenant\'s entries', async () => {
    const tenant = await createTenant(t);
    const other = await createTenant(t);
    await t.http().post(`/api/v1/ops/tenants/${other.tenantId}/live-mode`).set(operator).send({ allowed: true }).expect(200);

    const response = await t.http().get(AUDIT_PATH).set(tenant.auth);

    const tenantIds = new Set(response.body.data.map((entry: { tenantId: string }) => entry.tenantId));
    expect([...tenantIds]).toEqual([tenant.tenantId]);
  });

  it('hides platform-wide entries', async () => {
    const tenant = await createTenant(t);
    await t.http().post('/api/v1/ops/tokens').set(operator).send({ role: 'operator', label: 'platform only' }).expect(201);

    const response = await t.http().get(AUDIT_PATH).set(tenant.auth);

    expect(response.body.data.some((entry: AuditEntry) => entry.details.label === 'platform only')).toBe(false);
  });

  it('pages with limit and cursor', async () => {
    const tenant = await createTenant(t);
    const facade = t.app.get<TenancyFacade>(TENANCY_FACADE);
    for (let i = 0; i < 5; i++) {
      await facade.recordAudit({ tenantId: tenant.tenantId, action: 'test.entry', details: { i } });
    }

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: AuditEntry[]; nextCursor: string | null } } = await t
        .http()
        .get(AUDIT_PATH)
        .query(cursor ? { limit: 2, cursor } : { limit: 2 })
        .set(tenant.auth);
      seen.push(...page.body.data.filter((entry) => entry.action === 'test.entry').map((entry) => entry.details.i as number));
      cursor = page.body.nextCursor;
    } while (cursor);

    expect(seen).toEqual([4, 3, 2, 1, 0]);
  });

  it('answers 403 to a staff token', async () => {
    const tenant = await createTenant(t, 'staff');

    const response = await t.http().get(AUDIT_PATH).set(tenant.auth);

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('forbidden');
  });

  it('answers 200 to an admin token', async () => {
    const tenant = await createTenant(t);
    const admin = await createToken(t, tenant.tenantId, 'admin');

    const response = await t.http().get(AUDIT_PATH).set(admin);

    expect(response.status).toBe(200);
  });

  it('answers 403 to an operator token', async () => {
    const response = await t.http().get(AUDIT_PATH).set(operator);

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('forbidden');
  });

  it('answers 401 without credentials', async () => {
    const response = await t.http().get(AUDIT_PATH);

    expect(response.status).toBe(401);
  });
});

describe('GET /api/v1/ops/audit-log', () => {
  it('lists entries across tenants, platform-wide ones included', async () => {
    const created = await t.http().post('/api/v1/ops/tokens').set(operator).send({ role: 'operator', label: 'seen by ops' });

    const response = await t.http().get(OPS_AUDIT_PATH).set(operator);

    const entry = response.body.data.find((item: AuditEntry) => item.details.tokenId === created.body.id);
    expect(entry.action).toBe('token.created');
    expect(entry.tenantId).toBeNull();
  });

  it('filters by tenantId', async () => {
    const tenant = await createTenant(t);
    await createTenant(t);

    const response = await t.http().get(OPS_AUDIT_PATH).query({ tenantId: tenant.tenantId }).set(operator);

    const tenantIds = new Set(response.body.data.map((entry: { tenantId: string }) => entry.tenantId));
    expect([...tenantIds]).toEqual([tenant.tenantId]);
  });

  it('records an operator session as the actor', async () => {
    const tenant = await createTenant(t);
    const user = await createOperatorUser(t);
    const cookie = await loginCookie(t, { email: user.email, password: user.password });

    await t.http().post(`/api/v1/ops/tenants/${tenant.tenantId}/live-mode`).set('Cookie', cookie).set(CSRF).send({ allowed: true }).expect(200);
    const response = await t.http().get(OPS_AUDIT_PATH).query({ tenantId: tenant.tenantId }).set(operator);

    expect(response.body.data[0].action).toBe('tenant.live_mode_changed');
    expect(response.body.data[0].actor).toEqual({ kind: 'operator', id: user.id, label: user.email });
  });

  it('answers 403 to a tenant owner token', async () => {
    const tenant = await createTenant(t, 'owner');

    const response = await t.http().get(OPS_AUDIT_PATH).set(tenant.auth);

    expect(response.status).toBe(403);
  });
});
