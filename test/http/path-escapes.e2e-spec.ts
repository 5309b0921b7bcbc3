import { createTenant } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';

/** A malformed percent escape in the path follows the contract's precedence: 401, then 403, then 404. */
describe('malformed path escapes', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'warn' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('returns 401 without credentials', async () => {
    const response = await t.http().get('/api/v1/payments/%ZZ');

    expect(response.status).toBe(401);
    expect(response.body.code).toBe('unauthenticated');
  });

  it('returns 404 for an id that cannot exist', async () => {
    const tenant = await createTenant(t);

    const invalidEscape = await t.http().get('/api/v1/payments/%ZZ').set(tenant.auth);
    const notUtf8 = await t.http().get('/api/v1/invoices/%C3%28').set(tenant.auth);

    expect(invalidEscape.status).toBe(404);
    expect(invalidEscape.body.code).toBe('not_found');
    expect(notUtf8.status).toBe(404);
    expect(notUtf8.body.code).toBe('not_found');
  });

  it('returns 403 on an ops route for a tenant token', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().get('/api/v1/ops/tenants/%ZZ').set(tenant.auth);

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('forbidden');
  });

  it('returns 404 for a webhook token that cannot exist', async () => {
    const response = await t.http().post('/webhooks/stripe/%ZZ').set('Content-Type', 'application/json').send('{}');

    expect(response.status).toBe(404);
    expect(response.body.code).toBe('not_found');
  });
});
