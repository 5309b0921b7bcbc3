import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createOperatorAuth, createTenant } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';
import { operatorSession } from '../webhooks/webhook-helpers';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';

const BOARD = '/ops/queues';

describe('Bull Board at /ops/queues', () => {
  let t: TestApp;
  let session: { Cookie: string };

  beforeAll(async () => {
    t = await startTestApp();
    session = await operatorSession(t);
  });

  afterAll(async () => {
    await t.close();
  });

  async function tenantSession(): Promise<{ Cookie: string }> {
    const tenant = await createTenant(t);
    const email = `owner-${randomBytes(5).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    await t.app.get<TenancyAdmin>(TENANCY_ADMIN).createUser({ tenantId: tenant.tenantId, email, password, role: 'owner' });
    const login = await t.http().post('/api/v1/auth/login').send({ tenant: tenant.slug, email, password }).expect(200);

    return { Cookie: (login.headers['set-cookie'] as unknown as string[]).map((value) => value.split(';')[0]).join('; ') };
  }

  it('serves the dashboard to an operator session', async () => {
    const response = await t.http().get(BOARD).set(session);

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.text).toContain('Billing queues');
  });

  it('lists every queue in its API', async () => {
    const response = await t.http().get(`${BOARD}/api/queues`).set(session).expect(200);

    expect(response.body.queues.map((queue: { name: string }) => queue.name).sort()).toEqual(['domain-events', 'invoices', 'maintenance', 'payments', 'webhook-events']);
  });

  it('serves the dashboard scripts to an operator session', async () => {
    const page = await t.http().get(BOARD).set(session).expect(200);
    const script = /src="([^"]+\.js)"/.exec(page.text)?.[1] as string;

    const response = await t.http().get(new URL(script, `${t.url}${BOARD}/`).pathname).set(session);

    expect(response.status).toBe(200);
  });

  it('rejects a request without a session', async () => {
    const response = await t.http().get(BOARD);

    expect(response.status).toBe(401);
    expect(response.body.code).toBe('unauthenticated');
  });

  it('rejects the API without a session', async () => {
    const response = await t.http().get(`${BOARD}/api/queues`);

    expect(response.status).toBe(401);
  });

  it('rejects an operator API token', async () => {
    const response = await t.http().get(BOARD).set(await createOperatorAuth(t));

    expect(response.status).toBe(401);
  });

  it('rejects a tenant session', async () => {
    const response = await t.http().get(BOARD).set(await tenantSession());

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('forbidden');
  });

  it('rejects a change from another origin', async () => {
    const response = await t.http().put(`${BOARD}/api/queues/webhook-events/retry/failed`).set(session).set('Origin', 'https://evil.example.com');

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('csrf_failed');
  });

  it('accepts a change from its own page', async () => {
    const response = await t.http().put(`${BOARD}/api/queues/webhook-events/retry/failed`).set(session).set('Origin', t.url);

    expect(response.status).toBe(200);
  });

  it('is not served by a worker process', async () => {
    const worker = await startTestApp({ APP_ROLE: 'worker' }, t.emulator);
    try {
      const response = await request(worker.url).get(BOARD).set(session);

      expect(response.status).toBe(404);
    } finally {
      await worker.close();
    }
  });
});
