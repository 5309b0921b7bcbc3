import pino from 'pino';
import { loggerParams } from './logging';

const SECRET_KEY = `sk_test_${'d4'.repeat(12)}`;
const WEBHOOK_SECRET = `whsec_${'e5'.repeat(16)}`;
const API_TOKEN = 'bst_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0';

/** Builds the service's pino logger over an in-memory destination. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const params = loggerParams('debug', { write: (line: string) => lines.push(line) });
  const [options, destination] = params.pinoHttp as [pino.LoggerOptions, pino.DestinationStream];

  return { logger: pino(options, destination), lines };
}

describe('loggerParams', () => {
  it('logs a req field that is no HTTP request', () => {
    const { logger, lines } = capturingLogger();

    logger.info({ req: { id: 'r1' } }, 'queued');

    expect(JSON.parse(lines[0]).req).toEqual({ id: 'r1' });
  });


  it('redacts secret fields at any of the first three levels', () => {
    const { logger, lines } = capturingLogger();

    logger.info({ password: 'hunter2-hunter2', request: { headers: { authorization: 'Basic dXNlcg==', cookie: 'a=b' }, body: { secretKey: 'plain' } } }, 'request');

    const line = JSON.parse(lines[0]);
    expect(line.password).toBe('[redacted]');
    expect(line.request.headers.authorization).toBe('[redacted]');
    expect(line.request.headers.cookie).toBe('[redacted]');
    expect(line.request.body.secretKey).toBe('[redacted]');
  });

  it('masks secrets in error messages and stacks', () => {
    const { logger, lines } = capturingLogger();

    logger.error({ err: new Error(`Stripe rejected ${SECRET_KEY} and ${WEBHOOK_SECRET}`) }, `failed with ${API_TOKEN}`);

    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('sk_test_[redacted]');
    expect(lines[0]).not.toContain(SECRET_KEY);
    expect(lines[0]).not.toContain(WEBHOOK_SECRET);
    expect(lines[0]).not.toContain(API_TOKEN);
  });

  it('masks secrets in nested values of any field', () => {
    const { logger, lines } = capturingLogger();

    logger.warn({ job: { data: { note: `key ${SECRET_KEY}` }, failedReason: `Bearer ${API_TOKEN}` } }, 'job failed');

    expect(lines[0]).not.toContain(SECRET_KEY);
    expect(lines[0]).not.toContain(API_TOKEN);
  });
});
