import { LOG_REDACT_PATHS, redactLogText, redactingDestination } from './log-redaction';

const SECRET_KEY = `sk_live_${'a1'.repeat(12)}`;
const RESTRICTED_KEY = `rk_test_${'b2'.repeat(12)}`;
const WEBHOOK_SECRET = `whsec_${'c3'.repeat(16)}`;
const API_TOKEN = 'bst_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';
const SESSION_ID = 'q83vEjRWeJoSNFZ4mq3v7xI0VniavN7_EjRWeJq83vA';

describe('redactLogText', () => {
  it.each([
    ['a secret key', `Invalid API Key provided: ${SECRET_KEY}`, SECRET_KEY],
    ['a restricted key', `key=${RESTRICTED_KEY}&x=1`, RESTRICTED_KEY],
    ['a webhook secret', `{"secret":"${WEBHOOK_SECRET}"}`, WEBHOOK_SECRET],
    ['an API token', `GET /api/v1/payments?access_token=${API_TOKEN}`, API_TOKEN],
    ['a bearer credential', `authorization: Bearer ${SESSION_ID}`, SESSION_ID],
    ['a URL-encoded bearer credential', `?auth=Bearer%20${SESSION_ID}`, SESSION_ID],
    ['a session cookie', `cookie: billing_session=${SESSION_ID}; theme=dark`, SESSION_ID],
  ])('masks %s', (_kind, text, secret) => {
    const redacted = redactLogText(text);

    expect(redacted).not.toContain(secret);
    expect(redacted).toContain('[redacted]');
  });

  it('keeps masked keys and ordinary text', () => {
    const text = 'connected sk_test_…gCcv for tenant 3f0c, request 9b1e';

    expect(redactLogText(text)).toBe(text);
  });
});

describe('redactingDestination', () => {
  it('masks every line it forwards', () => {
    const lines: string[] = [];
    const destination = redactingDestination({ write: (line: string) => lines.push(line) });

    destination.write(`{"err":{"stack":"Error: ${SECRET_KEY}\\n    at x"}}\n`);

    expect(lines).toEqual(['{"err":{"stack":"Error: sk_live_[redacted]\\n    at x"}}\n']);
  });
});

describe('LOG_REDACT_PATHS', () => {
  it('covers headers and bodies below a request', () => {
    expect(LOG_REDACT_PATHS).toEqual(expect.arrayContaining(['*.*.authorization', '*.*.cookie', '*.*["stripe-signature"]', '*.*.password', 'secretKey']));
  });
});
