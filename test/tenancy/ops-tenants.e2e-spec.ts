import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { DataSource } from 'typeorm';
import { createOperatorAuth, createTenant, uniqueSlug } from '../support/factories';
import { createEmulatorAccount } from '../support/stripe-account';
import { TestApp, startTestApp } from '../support/test-app';
import { MISSING_ID, strongPassword, uniqueEmail } from './tenancy-helpers';

const TENANTS_PATH = '/api/v1/ops/tenants';

let t: TestApp;
let operator: { Authorization: string };

beforeAll(async () => {
  t = await startTestApp();
  operator = await createOperatorAuth(t);
});

afterAll(async () => {
  await t?.close();
});

async function outboxEvents(tenantId: string): Promise<{ event_name: string; payload: Record<string, unknown> }[]> {
  return t.app
    .get(DataSource)
    .query('SELECT event_name, payload FROM outbox_events WHERE tenant_id = $1 ORDER BY created_at', [tenantId]);
}

describe('POST /api/v1/ops/tenants', () => {
  it('creates a tenant with the default time zone', async () => {
    const slug = uniqueSlug('create');

    const response = await t.http().post(TENANTS_PATH).set(operator).send({ slug, name: 'Acme Training' });

    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.any(String),
      slug,
      name: 'Acme Training',
      timeZone: 'America/Chicago',
      liveModeAllowed: false,
      status: 'active',
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      updatedAt: expect.any(String),
    });
  });

  it('stores a given time zone', async () => {
    const response = await t.http().post(TENANTS_PATH).set(operator).send({ slug: uniqueSlug(), name: 'Berlin', timeZone: 'Europe/Berlin' });

    expect(response.status).toBe(201);
    expect(response.body.timeZone).toBe('Europe/Berlin');
  });

  it('publishes TenantCreated through the outbox', async () => {
    const slug = uniqueSlug('event');
    const response = await t.http().post(TENANTS_PATH).set(operator).send({ slug, name: 'Evented' });

    const events = await outboxEvents(response.body.id);

    expect(events).toEqual([{ event_name: 'tenancy.tenant_created', payload: { slug, name: 'Evented' } }]);
  });

  it('answers 409 already_exists for a duplicate slug', async () => {
    const slug = uniqueSlug('dup');
    await t.http().post(TENANTS_PATH).set(operator).send({ slug, name: 'First' }).expect(201);

    const response = await t.http().post(TENANTS_PATH).set(operator).send({ slug, name: 'Second' });

    expect(response.status).toBe(409);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.code).toBe('already_exists');
    expect(response.body.errors).toEqual([{ field: 'slug', message: 'is already taken' }]);
  });

  it.each(['A', 'Has Spaces', 'UPPER', 'a'.repeat(64), 'under_score'])('answers 400 on the slug field for "%s"', async (slug) => {
    const response = await t.http().post(TENANTS_PATH).set(operator).send({ slug, name: 'Bad' });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors.map((error: { field: string }) => error.field)).toEqual(['slug']);
  });

  it.each([
    ['a zero-width space', '\u200b'],
    ['a word joiner and a byte order mark', '\u2060\ufeff'],
    ['no-break spaces and a tab', '\u00a0\t\u00a0'],
  ])('answers 400 on the name field for a name of only %s', async (_case, name) => {
    const response = await t.http().post(TENANTS_PATH).set(operator).send({ slug: uniqueSlug('blank'), name });

    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'name', message: 'must not be blank' }]);
  });

  it('answers 400 on the timeZone field for an unknown zone', async () => {
    const response = await t.http().post(TENANTS_PATH).set(operator).send({ slug: uniqueSlug(), name: 'Bad', timeZone: 'Mars/Olympus_Mons' });

    expect(response.status).toBe(400);
    expect(response.body.errors.map((error: { field: string }) => error.field)).toEqual(['timeZone']);
  });

  it('answers 400 for an unknown field', async () => {
    const response = await t.http().post(TENANTS_PATH).set(operator).send({ slug: uniqueSlug(), name: 'Extra', plan: 'gold' });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors.map((error: { field: string }) => error.field)).toEqual(['plan']);
  });

  it('answers 401 without a token before validating the body', async () => {
    const response = await t.http().post(TENANTS_PATH).send({ slug: 'NOT VALID' });

    expect(response.status).toBe(401);
    expect(response.body.code).toBe('unauthenticated');
  });

  it('answers 403 to a tenant token before validating the body', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().post(TENANTS_PATH).set(tenant.auth).send({ slug: 'NOT VALID' });

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('forbidden');
  });
});

describe('GET /api/v1/ops/tenants', () => {
  it('lists tenants newest first with keyset pagination', async () => {
    const admin = t.app.get<TenancyAdmin>(TENANCY_ADMIN);
    const created = [];
    for (let i = 0; i < 3; i++) {
      created.push(await admin.createTenant({ slug: uniqueSlug('page'), name: `Page ${i}` }));
    }

    const first = await t.http().get(TENANTS_PATH).query({ limit: 2 }).set(operator);
    const second = await t.http().get(TENANTS_PATH).query({ limit: 2, cursor: first.body.nextCursor }).set(operator);

    expect(first.status).toBe(200);
    expect(first.body.data.map((tenant: { id: string }) => tenant.id)).toEqual([created[2].id, created[1].id]);
    expect(second.body.data[0].id).toBe(created[0].id);
  });

  it('answers 400 for a cursor it did not issue', async () => {
    const response = await t.http().get(TENANTS_PATH).query({ cursor: 'garbage' }).set(operator);

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('cursor');
  });

  it('answers 400 for a limit over 100', async () => {
    const response = await t.http().get(TENANTS_PATH).query({ limit: 101 }).set(operator);

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('limit');
  });

  it('answers 403 to a tenant token', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().get(TENANTS_PATH).set(tenant.auth);

    expect(response.status).toBe(403);
  });

  it('answers 403 to a tenant token whatever the path case', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().get('/API/V1/OPS/TENANTS').set(tenant.auth);

    expect(response.status).toBe(403);
  });

  it('answers 401 without a token', async () => {
    const response = await t.http().get(TENANTS_PATH);

    expect(response.status).toBe(401);
  });
});

describe('GET and PATCH /api/v1/ops/tenants/:tenantId', () => {
  it('returns the tenant', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().get(`${TENANTS_PATH}/${tenant.tenantId}`).set(operator);

    expect(response.status).toBe(200);
    expect(response.body.slug).toBe(tenant.slug);
  });

  it('answers 404 for a missing tenant', async () => {
    const response = await t.http().get(`${TENANTS_PATH}/${MISSING_ID}`).set(operator);

    expect(response.status).toBe(404);
    expect(response.body.code).toBe('not_found');
  });

  it('answers 404 for a malformed id', async () => {
    const response = await t.http().get(`${TENANTS_PATH}/not-a-uuid`).set(operator);

    expect(response.status).toBe(404);
  });

  it('updates the name and time zone', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().patch(`${TENANTS_PATH}/${tenant.tenantId}`).set(operator).send({ name: 'Renamed', timeZone: 'Asia/Tokyo' });

    expect(response.status).toBe(200);
    expect(response.body.name).toBe('Renamed');
    expect(response.body.timeZone).toBe('Asia/Tokyo');
  });

  it('rejects a rename to a zero-width space as blank', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().patch(`${TENANTS_PATH}/${tenant.tenantId}`).set(operator).send({ name: '\u200b' });
    const stored = await t.http().get(`${TENANTS_PATH}/${tenant.tenantId}`).set(operator);

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'name', message: 'must not be blank' }]);
    expect(stored.body.name).not.toBe('\u200b');
  });

  it('answers 400 before 404 for an invalid body on a missing tenant', async () => {
    const response = await t.http().patch(`${TENANTS_PATH}/${MISSING_ID}`).set(operator).send({ timeZone: 'Nowhere/Land' });

    expect(response.status).toBe(400);
  });

  it('answers 404 for a valid body on a missing tenant', async () => {
    const response = await t.http().patch(`${TENANTS_PATH}/${MISSING_ID}`).set(operator).send({ name: 'Ghost' });

    expect(response.status).toBe(404);
  });

  it('rejects a slug change as an unknown field', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().patch(`${TENANTS_PATH}/${tenant.tenantId}`).set(operator).send({ slug: 'new-slug' });

    expect(response.status).toBe(400);
  });
});

describe('POST /api/v1/ops/tenants/:tenantId/live-mode', () => {
  it('allows live mode and returns the tenant', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/live-mode`).set(operator).send({ allowed: true });

    expect(response.status).toBe(200);
    expect(response.body.id).toBe(tenant.tenantId);
    expect(response.body.liveModeAllowed).toBe(true);
  });

  it('publishes LiveModeAllowed through the outbox', async () => {
    const tenant = await createTenant(t);

    await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/live-mode`).set(operator).send({ allowed: true }).expect(200);

    const events = await outboxEvents(tenant.tenantId);
    expect(events.map((event) => event.event_name)).toEqual(['tenancy.tenant_created', 'tenancy.live_mode_changed']);
    expect(events[1].payload).toEqual({ allowed: true });
  });

  it('rejects forbidding live mode while live keys are connected', async () => {
    const tenant = await createTenant(t);
    await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/live-mode`).set(operator).send({ allowed: true }).expect(200);
    const account = await createEmulatorAccount(t);
    await t.http().post('/api/v1/settings/billing/stripe').set(tenant.auth).send(account.live).expect(201);

    const response = await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/live-mode`).set(operator).send({ allowed: false });
    const settings = await t.http().get('/api/v1/settings/billing').set(tenant.auth).expect(200);

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('invalid_state');
    expect(response.body.detail).toContain('switch to test keys');
    expect(settings.body.stripe.mode).toBe('live');
    expect(settings.body.liveModeAllowed).toBe(true);
  });

  it('forbids live mode once the tenant is back on test keys', async () => {
    const tenant = await createTenant(t);
    await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/live-mode`).set(operator).send({ allowed: true }).expect(200);
    const account = await createEmulatorAccount(t);
    await t.http().post('/api/v1/settings/billing/stripe').set(tenant.auth).send(account.live).expect(201);
    await t.http().put('/api/v1/settings/billing/stripe/keys').set(tenant.auth).send(account.test).expect(200);

    const response = await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/live-mode`).set(operator).send({ allowed: false });

    expect(response.status).toBe(200);
    expect(response.body.liveModeAllowed).toBe(false);
  });

  it('answers 400 when allowed is not a boolean', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/live-mode`).set(operator).send({ allowed: 'yes' });

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('allowed');
  });

  it('answers 404 for a missing tenant', async () => {
    const response = await t.http().post(`${TENANTS_PATH}/${MISSING_ID}/live-mode`).set(operator).send({ allowed: true });

    expect(response.status).toBe(404);
  });
});

describe('POST /api/v1/ops/tenants/:tenantId/users', () => {
  it('creates a user with a lower-cased email', async () => {
    const tenant = await createTenant(t);
    const email = uniqueEmail('Mixed.Case');

    const response = await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/users`).set(operator).send({
      email: email.toUpperCase(),
      password: strongPassword(),
      role: 'admin',
    });

    expect(response.status).toBe(201);
    expect(response.body).toEqual({ id: expect.any(String), email: email.toLowerCase(), role: 'admin', tenantId: tenant.tenantId, createdAt: expect.any(String) });
  });

  it('answers 409 already_exists for an email already in the tenant', async () => {
    const tenant = await createTenant(t);
    const body = { email: uniqueEmail(), password: strongPassword(), role: 'staff' };
    await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/users`).set(operator).send(body).expect(201);

    const response = await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/users`).set(operator).send({ ...body, email: body.email.toUpperCase() });

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('already_exists');
    expect(response.body.errors[0].field).toBe('email');
  });

  it('allows the same email in another tenant with the same password', async () => {
    const first = await createTenant(t);
    const second = await createTenant(t);
    const body = { email: uniqueEmail(), password: strongPassword(), role: 'owner' };
    const created = await t.http().post(`${TENANTS_PATH}/${first.tenantId}/users`).set(operator).send(body);

    const response = await t.http().post(`${TENANTS_PATH}/${second.tenantId}/users`).set(operator).send(body);

    expect(response.status).toBe(201);
    expect(response.body.id).toBe(created.body.id);
    expect(response.body.tenantId).toBe(second.tenantId);
  });

  it('answers 409 for the same email in another tenant with another password', async () => {
    const first = await createTenant(t);
    const second = await createTenant(t);
    const email = uniqueEmail();
    await t.http().post(`${TENANTS_PATH}/${first.tenantId}/users`).set(operator).send({ email, password: strongPassword(), role: 'owner' }).expect(201);

    const response = await t.http().post(`${TENANTS_PATH}/${second.tenantId}/users`).set(operator).send({ email, password: strongPassword(), role: 'owner' });

    expect(response.status).toBe(409);
    expect(response.body.errors[0].field).toBe('email');
  });

  it('answers 400 for a password under 12 characters', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/users`).set(operator).send({ email: uniqueEmail(), password: 'elevenchars', role: 'owner' });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'password', message: 'must be at least 12 characters long' }]);
  });

  it('answers 400 for the operator role', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/users`).set(operator).send({ email: uniqueEmail(), password: strongPassword(), role: 'operator' });

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('role');
  });

  it('answers 404 for a missing tenant', async () => {
    const response = await t.http().post(`${TENANTS_PATH}/${MISSING_ID}/users`).set(operator).send({ email: uniqueEmail(), password: strongPassword(), role: 'owner' });

    expect(response.status).toBe(404);
  });

  it('never returns the password or its hash', async () => {
    const tenant = await createTenant(t);
    const password = strongPassword();

    const response = await t.http().post(`${TENANTS_PATH}/${tenant.tenantId}/users`).set(operator).send({ email: uniqueEmail(), password, role: 'owner' });

    expect(response.text).not.toContain(password);
    expect(response.text).not.toContain('argon2');
  });
});
