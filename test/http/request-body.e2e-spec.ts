import { gzipSync } from 'node:zlib';
import { createOperatorAuth, createTenant, createToken } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';

const MISSING_ID = '00000000-0000-4000-8000-000000000000';

/** The contract's precedence for a malformed body: 401, then 403, then 400. */
describe('request body handling', () => {
  let t: TestApp;
  /** Every JSON log line the app wrote. */
  const logLines: string[] = [];

  beforeAll(async () => {
    const logDestination = {
      write(line: string): boolean {
        logLines.push(line);

        return true;
      },
    };
    t = await startTestApp({ LOG_LEVEL: 'warn' }, undefined, { logDestination });
  });

  afterAll(async () => {
    await t.close();
  });

  function postRaw(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
    // Without a serializer of its own, superagent sends a Buffer as JSON of its bytes.
    return t.http().post(path).set({ 'Content-Type': 'application/json', ...headers }).serialize((data: unknown) => data as string).send(body);
  }

  it('returns 401 before a malformed body', async () => {
    const response = await postRaw('/api/v1/payments', '{bad');

    expect(response.status).toBe(401);
    expect(response.body.code).toBe('unauthenticated');
  });

  it('returns 403 for staff before a malformed body', async () => {
    const tenant = await createTenant(t);
    const staff = await createToken(t, tenant.tenantId, 'staff');

    const response = await postRaw('/api/v1/settings/billing/stripe', '{bad', staff);

    expect(response.status).toBe(403);
    expect(response.body.code).toBe('forbidden');
  });

  it('returns 403 for an operator first', async () => {
    const response = await postRaw('/api/v1/payments', '{bad', await createOperatorAuth(t));

    expect(response.status).toBe(403);
  });

  it('returns 400 once authorized', async () => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/payments', '{bad', tenant.auth);

    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'body', message: 'must be valid JSON' }]);
  });

  it('names where invalid JSON stops parsing', async () => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/payments', '{"amount": 2000,}', tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.detail).toBe('The request body is not valid JSON (parsing stopped at character offset 16). Send the fields as one JSON object.');
    expect(response.body.errors).toEqual([{ field: 'body', message: 'must be valid JSON' }]);
  });

  it('rejects a text/plain body by its Content-Type', async () => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/payments', '{"amount":2000,"currency":"usd","paymentMethod":"pm_card_visa"}', {
      ...tenant.auth,
      'Content-Type': 'text/plain',
    });

    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.detail).toBe(
      'The request body was sent with Content-Type text/plain, so it was not read. Send the fields as a JSON object with Content-Type: application/json.',
    );
    expect(response.body.errors).toEqual([{ field: 'Content-Type', message: 'must be application/json' }]);
  });

  it('rejects a text/plain body where every field is optional', async () => {
    const tenant = await createTenant(t);

    // Read as no body, this request would refund all that is left, not the 500 in the body.
    const response = await postRaw(`/api/v1/payments/${MISSING_ID}/refunds`, '{"amount":500}', { ...tenant.auth, 'Content-Type': 'text/plain' });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'Content-Type', message: 'must be application/json' }]);
  });

  it('rejects a body without a Content-Type', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().post('/api/v1/payments').set(tenant.auth).set('Content-Type', '').send(Buffer.from('{"amount":2000}'));

    expect(response.status).toBe(400);
    expect(response.body.detail).toContain('without a Content-Type');
    expect(response.body.errors).toEqual([{ field: 'Content-Type', message: 'must be application/json' }]);
  });

  it('ignores a text/plain body on a route that takes none', async () => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/settings/billing/stripe/verify', 'hello', { ...tenant.auth, 'Content-Type': 'text/plain' });

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('stripe_not_connected');
  });

  it.each([
    ['verify', '/api/v1/settings/billing/stripe/verify'],
    ['finalize', `/api/v1/invoices/${MISSING_ID}/finalize`],
    ['void', `/api/v1/invoices/${MISSING_ID}/void`],
    ['logout', '/api/v1/auth/logout'],
  ])('rejects a field sent to %s', async (_action, path) => {
    const tenant = await createTenant(t);

    const response = await postRaw(path, '{"reason":"oops"}', tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'reason', message: 'is not a field of this action, which takes no body' }]);
  });

  it.each([
    ['replay', `/api/v1/ops/webhook-events/${MISSING_ID}/replay`],
    ['retry-failed', '/api/v1/ops/queues/webhook-events/retry-failed'],
  ])('rejects a field sent to the operators\' %s', async (_action, path) => {
    const operator = await createOperatorAuth(t);

    const response = await postRaw(path, '{"force":true}', operator);

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'force', message: 'is not a field of this action, which takes no body' }]);
  });

  it('accepts an empty object on a route that takes no body', async () => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/settings/billing/stripe/verify', '{}', tenant.auth);

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('stripe_not_connected');
  });

  it.each(['null', '"text"', '42'])('rejects the non-object body %s', async (body) => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/payments', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.detail).toBe('The request body is not a JSON object.');
  });

  it('rejects a JSON array body as one error', async () => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/payments', '[{"amount":100},2]', tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.detail).toBe('The request body is not a JSON object.');
    expect(response.body.errors).toEqual([{ field: 'body', message: 'must be a JSON object' }]);
  });

  it('names a login tenant given as an array', async () => {
    const response = await postRaw('/api/v1/auth/login', JSON.stringify({ tenant: ['acme'], email: 'owner@example.com', password: 'x' }));

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'tenant', message: 'must be a string' }]);
  });

  it('rejects a __proto__ key as an unknown field', async () => {
    const tenant = await createTenant(t);
    const body = '{"amount":1000,"currency":"usd","paymentMethod":"pm_card_visa","__proto__":{"x":1}}';

    const response = await postRaw('/api/v1/payments', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('__proto__');
  });

  it('returns 401 before a duplicate key', async () => {
    const response = await postRaw('/api/v1/payments', '{"amount":1000,"amount":100000}');

    expect(response.status).toBe(401);
  });

  it('rejects a duplicate top-level key', async () => {
    const tenant = await createTenant(t);
    const body = '{"amount":1000,"currency":"usd","paymentMethod":"pm_card_visa","amount":100000}';

    const response = await postRaw('/api/v1/payments', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'amount', message: 'must appear only once' }]);
    expect(response.body.detail).toContain('"amount" twice');
    const payments = await t.http().get('/api/v1/payments').set(tenant.auth);
    expect(payments.body.data).toEqual([]);
  });

  it('rejects a duplicate key spelled with an escape', async () => {
    const tenant = await createTenant(t);
    const body = '{"amount":1000,"currency":"usd","paymentMethod":"pm_card_visa","metadata":{"order":"1","\\u006frder":"2"}}';

    const response = await postRaw('/api/v1/payments', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'metadata.order', message: 'must appear only once' }]);
  });

  it('rejects a duplicate key in a gzip body', async () => {
    const tenant = await createTenant(t);
    const body = gzipSync('{"amount":1000,"currency":"usd","paymentMethod":"pm_card_visa","currency":"eur"}');

    // Without a serializer of its own, superagent would send the Buffer as JSON. Its typing wants a string, but the Buffer passes through.
    const response = await t
      .http()
      .post('/api/v1/payments')
      .set({ ...tenant.auth, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' })
      .serialize((value: unknown) => value as string)
      .send(body);

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'currency', message: 'must appear only once' }]);
  });

  it('rejects a query parameter given twice', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().get('/api/v1/payments?limit=1&limit=2').set(tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'limit', message: 'must appear only once' }]);
  });

  it('returns 401 before a query parameter given twice', async () => {
    const response = await t.http().get('/api/v1/payments?limit=1&limit=2');

    expect(response.status).toBe(401);
  });

  it('rejects a nested constructor key', async () => {
    const tenant = await createTenant(t);
    const body = '{"amount":1000,"currency":"usd","paymentMethod":"pm_card_visa","metadata":{"constructor":"x"}}';

    const response = await postRaw('/api/v1/payments', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('metadata.constructor');
  });

  it('rejects a deeply nested body with 400', async () => {
    const tenant = await createTenant(t);
    const depth = 3000;
    const body = `{"amount":1000,"currency":"usd","paymentMethod":"pm_card_visa","metadata":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;

    const response = await postRaw('/api/v1/payments', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors[0].field).toBe('body');
  });

  it('accepts nesting up to the depth limit', async () => {
    const tenant = await createTenant(t);
    // The body is level 1 and metadata level 2, so 30 more levels reach the limit of 32.
    const body = `{"amount":1000,"currency":"usd","metadata":${'{"a":'.repeat(30)}1${'}'.repeat(30)}}`;

    const response = await postRaw('/api/v1/payments', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors.map((error: { field: string }) => error.field)).not.toContain('body');
  });

  it('rejects a key hidden below the depth limit', async () => {
    const tenant = await createTenant(t);
    const body = `{"metadata":${'{"a":'.repeat(40)}{"constructor":1}${'}'.repeat(40)}}`;

    const response = await postRaw('/api/v1/payments', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('body');
  });

  it('masks a secret key sent as a field name', async () => {
    const tenant = await createTenant(t);
    const key = `sk_test_${'a1'.repeat(12)}`;

    const response = await postRaw('/api/v1/payments', JSON.stringify({ [key]: 1, amount: 1000, currency: 'usd', paymentMethod: 'pm_card_visa' }), tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('sk_test_[redacted]');
    expect(response.text).not.toContain(key);
  });

  it('rejects a secret key in a free-text field', async () => {
    const tenant = await createTenant(t);
    const key = `rk_live_${'b2'.repeat(12)}`;
    const body = { amount: 1000, currency: 'usd', paymentMethod: 'pm_card_visa', description: `key ${key}` };

    const response = await postRaw('/api/v1/payments', JSON.stringify(body), tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('description');
    expect(response.text).not.toContain(key);
  });

  it('rejects a webhook secret in a metadata key', async () => {
    const tenant = await createTenant(t);
    const secret = `whsec_${'c3'.repeat(12)}`;
    const body = { amount: 1000, currency: 'usd', paymentMethod: 'pm_card_visa', metadata: { [secret]: 'x' } };

    const response = await postRaw('/api/v1/payments', JSON.stringify(body), tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('metadata.whsec_[redacted]');
    expect(response.text).not.toContain(secret);
  });

  it.each([
    ['a NUL character', { description: 'a\u0000b' }, 'description'],
    ['an unpaired surrogate', { description: '\ud800 x' }, 'description'],
    ['a NUL character in a metadata value', { metadata: { note: 'v\u0000' } }, 'metadata.note'],
    ['a NUL character in a metadata key', { metadata: { 'k\u0000': 'v' } }, 'metadata'],
  ])('rejects %s before any work', async (_name, fields, field) => {
    const tenant = await createTenant(t);
    const body = { amount: 1000, currency: 'usd', paymentMethod: 'pm_card_visa', ...fields };

    const response = await postRaw('/api/v1/payments', JSON.stringify(body), tenant.auth);
    const payments = await t.http().get('/api/v1/payments').set(tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field, message: 'must not contain a NUL character or an unpaired UTF-16 surrogate' }]);
    expect(payments.body.data).toEqual([]);
  });

  it('rejects a NUL character in a query parameter', async () => {
    const response = await t.http().get('/api/v1/ops/webhook-events?type=a%00b').set(await createOperatorAuth(t));

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'type', message: 'must not contain a NUL character or an unpaired UTF-16 surrogate' }]);
  });

  it.each([
    ['a byte that starts no character', Buffer.from([0xff, 0xfe])],
    ['a truncated sequence', Buffer.from([0xe2, 0x82])],
    ['an encoded surrogate', Buffer.from([0xed, 0xa0, 0x80])],
  ])('rejects a body with %s, which is not UTF-8', async (_case, bytes) => {
    const tenant = await createTenant(t);
    const body = Buffer.concat([Buffer.from('{"name":"'), bytes, Buffer.from('","email":"billing@acme.example"}')]);

    const response = await postRaw('/api/v1/customers', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'body', message: 'must be encoded as UTF-8' }]);
  });

  it.each([
    ['Latin-1 JSON cut short', Buffer.from('{"name":"Caf\xe9","email":"billing@acme.example"', 'latin1')],
    ['UTF-16 JSON without a charset', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"name":"Acme"}', 'utf16le')])],
  ])('names the encoding of %s that does not parse', async (_case, body) => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/customers', body, tenant.auth);

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'body', message: 'must be encoded as UTF-8' }]);
  });

  it.each([
    ['utf-16le', Buffer.from('{"name":"Acme","email":"billing@acme.example"}', 'utf16le')],
    ['utf-7', Buffer.from('{"name":"First","+AG4-ame":"Second","email":"billing@acme.example"}')],
  ])('refuses a JSON body declared as %s', async (charset, body) => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/customers', body, { ...tenant.auth, 'Content-Type': `application/json; charset=${charset}` });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'Content-Type', message: `charset "${charset}" is not accepted; use utf-8` }]);
  });

  it('names the charset that did not decode the body', async () => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/payments', '{"amount": 1000}', { ...tenant.auth, 'Content-Type': 'application/json; charset=utf-16' });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'Content-Type', message: 'charset "utf-16" did not decode the body to JSON; use utf-8' }]);
    expect(response.body.detail).toContain('decoded as utf-16');
  });

  describe('a body that cannot be decoded', () => {
    const undecodable: [string, Record<string, string>, string][] = [
      ['charset latin1', { 'Content-Type': 'application/json; charset=latin1' }, 'Content-Type'],
      ['Content-Encoding compress', { 'Content-Encoding': 'compress' }, 'Content-Encoding'],
      ['gzip over a plain body', { 'Content-Encoding': 'gzip' }, 'Content-Encoding'],
    ];

    it.each(undecodable)('returns 401 first for %s', async (_name, headers) => {
      const response = await postRaw('/api/v1/payments', '{}', headers);

      expect(response.status).toBe(401);
      expect(response.body.code).toBe('unauthenticated');
    });

    it.each(undecodable)('returns 403 for staff first for %s', async (_name, headers) => {
      const tenant = await createTenant(t);
      const staff = await createToken(t, tenant.tenantId, 'staff');

      const response = await postRaw('/api/v1/settings/billing/stripe', '{}', { ...staff, ...headers });

      expect(response.status).toBe(403);
    });

    it.each(undecodable)('returns 400 naming the header for %s', async (_name, headers, field) => {
      const tenant = await createTenant(t);

      const response = await postRaw('/api/v1/payments', '{}', { ...tenant.auth, ...headers });

      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors[0].field).toBe(field);
    });

    it.each([
      ['/api/v1/payments', true],
      ['/webhooks/stripe/whep_unknown', false],
    ])('logs %s at warn without a stack', async (path, authenticated) => {
      const tenant = await createTenant(t);
      const before = logLines.length;

      await postRaw(path, '{}', { ...(authenticated ? tenant.auth : {}), 'Content-Encoding': 'compress' });
      const entries = logLines.slice(before).map((line) => JSON.parse(line) as { level: number; msg: string; err?: { stack?: string } });
      const warnings = entries.filter((entry) => entry.level === 40);

      expect(entries.filter((entry) => entry.level >= 50)).toEqual([]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0].msg).toBe('Rejected a request body that could not be decoded');
      expect(entries.filter((entry) => entry.err?.stack !== undefined)).toEqual([]);
    });

    it('returns 400 on the public login route', async () => {
      const response = await postRaw('/api/v1/auth/login', '{}', { 'Content-Encoding': 'compress' });

      expect(response.status).toBe(400);
      expect(response.body.detail).toContain('"compress" is not supported');
    });

    // The webhook route reads raw bytes, so only an encoding it cannot undo is its concern.
    it.each(undecodable.slice(1))('returns 400 on webhook intake for %s', async (_name, headers) => {
      const response = await postRaw('/webhooks/stripe/whep_unknown', '{}', headers);

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
    });
  });

  it('returns 413 over the limit', async () => {
    const tenant = await createTenant(t);

    const response = await postRaw('/api/v1/payments', JSON.stringify({ description: 'x'.repeat(300 * 1024) }), tenant.auth);

    expect(response.status).toBe(413);
    expect(response.body.code).toBe('payload_too_large');
  });

  it('sends no HSTS header over plain HTTP', async () => {
    const response = await t.http().get('/health/live');

    expect(response.headers['strict-transport-security']).toBeUndefined();
    expect(response.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
  });
});
