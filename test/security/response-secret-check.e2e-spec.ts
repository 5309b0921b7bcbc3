import { QUEUE_INVOICES } from '@app/common/queues/queue-names';
import { getQueueToken } from '@nestjs/bullmq';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Queue } from 'bullmq';
import { CreateRefundDto } from '../../src/modules/payments/dto/create-refund.dto';
import { createTenant } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';
import { operatorSession } from '../webhooks/webhook-helpers';

const LEAKED_KEY = `sk_test_${'f6'.repeat(12)}`;
const WITHHELD = 'The response was withheld because it contained a secret. The incident has been logged.';

/**
 * The response check in the running application. Swagger and Bull Board are
 * Express handlers outside Nest's controllers, and the admin pages are sent
 * as files, so no Nest interceptor sees their bodies. These tests put a secret
 * where Swagger and Bull Board read from; the unit tests of the check cover
 * static files, sendFile and piped streams.
 */
describe('response secret check', () => {
  let t: TestApp;
  const logLines: string[] = [];

  beforeAll(async () => {
    // Stands for a careless example in an @ApiProperty, which the OpenAPI document would publish.
    ApiPropertyOptional({ type: String, example: LEAKED_KEY, description: 'Example that must never be served' })(CreateRefundDto.prototype, 'leakedExample');
    t = await startTestApp({ LOG_LEVEL: 'error' }, undefined, { logDestination: { write: (line: string) => logLines.push(line) } });
  });

  afterAll(async () => {
    await t?.close();
  });

  function expectWithheld(response: { status: number; text: string; body: { code?: string; detail?: string } }): void {
    expect(response.status).toBe(500);
    expect(response.text).not.toContain(LEAKED_KEY);
    expect(response.body.code).toBe('internal_error');
    expect(response.body.detail).toBe(WITHHELD);
  }

  it('withholds the OpenAPI document with a secret', async () => {
    expectWithheld(await t.http().get('/api/docs-json'));
  });

  it('withholds the Swagger UI script with a secret', async () => {
    const response = await t.http().get('/api/docs/swagger-ui-init.js');

    expect(response.status).toBe(500);
    expect(response.text).not.toContain(LEAKED_KEY);
  });

  it('logs a withheld response without the value', () => {
    const lines = logLines.filter((line) => line.includes('Response withheld'));

    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).toContain('/api/docs-json');
    expect(lines.join('')).not.toContain(LEAKED_KEY);
  });

  it('serves the admin pages, which hold no secret', async () => {
    for (const path of ['/admin/login', '/admin/settings/billing']) {
      const response = await t.http().get(path);

      expect({ path, status: response.status }).toEqual({ path, status: 200 });
    }
  });

  it('withholds Bull Board job data with a secret', async () => {
    const operator = await operatorSession(t);
    const queue = t.app.get<Queue>(getQueueToken(QUEUE_INVOICES));
    const path = `/ops/queues/api/queues?activeQueue=${QUEUE_INVOICES}&status=delayed&page=1`;

    const before = await t.http().get(path).set({ Cookie: operator.Cookie });
    expect(before.status).toBe(200);

    // Delayed by a day, so no worker takes the job while the dashboard reads it.
    const job = await queue.add('leak-probe', { note: `pasted ${LEAKED_KEY}` }, { delay: 86_400_000 });
    try {
      expectWithheld(await t.http().get(path).set({ Cookie: operator.Cookie }));
    } finally {
      await job.remove();
    }
  });

  it('masks a secret quoted in an error body', async () => {
    const tenant = await createTenant(t);

    const response = await t.http().post('/api/v1/payments').set(tenant.auth).send({ [LEAKED_KEY]: true });

    expect(response.status).toBe(400);
    expect(response.text).not.toContain(LEAKED_KEY);
    expect(response.text).toContain('sk_test_[redacted]');
  });
});
