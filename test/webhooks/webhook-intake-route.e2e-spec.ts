import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataSource } from 'typeorm';
import { createOperatorAuth } from '../support/factories';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';
import { TestApp, eventually, freePort, startTestApp } from '../support/test-app';
import { WebhookEndpoint, connectedEndpoint, eventIdOf, inboxRows, nowSeconds, randomSecret, startDatabaseProxy, stripeEvent } from './webhook-helpers';

const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');
const PLATFORM_SECRET = randomSecret();

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** POST raw bytes with node:http, so no client library rewrites the path, the headers or the body. */
function post(baseUrl: string, path: string, body: Buffer, headers: Record<string, string> = {}, method = 'POST'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(baseUrl);
    const outgoing = httpRequest(
      { host: url.hostname, port: url.port, method, path, agent: false, headers: { 'Content-Type': 'application/json', ...headers } },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function signed(secret: string, body: Buffer): Record<string, string> {
  return { 'Stripe-Signature': signStripePayload(secret, body, nowSeconds()) };
}

/** Status, headers and body, without the headers that differ between any two responses. */
function comparable(response: RawResponse): RawResponse {
  const headers = { ...response.headers };
  delete headers.date;
  delete headers['retry-after'];

  return { status: response.status, headers, body: response.body };
}

/**
 * The route served before Express handles the canonical URL, and Express
 * still serves every other spelling of it (here with a trailing slash)
 * through the webhook controller. Each case sends the same delivery to both
 * and expects the same status, headers and body.
 */
describe('Webhook route served before Express', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let endpoint: WebhookEndpoint;

  beforeAll(async () => {
    t = await startTestApp({ STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET, RATE_LIMIT_WEBHOOK_FAILURES: '3/1m' });
    dataSource = t.app.get(DataSource);
    endpoint = await connectedEndpoint(t, await createOperatorAuth(t));
  });

  afterAll(async () => {
    await t.close();
  });

  async function metricValue(outcome: string, app = t): Promise<number> {
    const text = (await app.http().get('/metrics')).text;
    const match = new RegExp(`^billing_webhook_intake_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);

    return match ? Number(match[1]) : 0;
  }

  describe('responds as the Express route', () => {
    it('200 for a new event', async () => {
      const first = stripeEvent();
      const second = stripeEvent();

      const fast = await post(t.url, endpoint.path, first, signed(endpoint.secret, first));
      const express = await post(t.url, `${endpoint.path}/`, second, signed(endpoint.secret, second));

      expect(fast.status).toBe(200);
      expect(comparable(fast)).toEqual(comparable(express));
      expect(fast.headers['content-security-policy']).toBeDefined();
      const rows = await inboxRows(dataSource, endpoint.tenantId, eventIdOf(first));
      expect(rows).toHaveLength(1);
      expect(Buffer.compare(rows[0].raw_body, first)).toBe(0);
    });

    it('200 for a duplicate, stored once', async () => {
      const body = stripeEvent();
      await post(t.url, endpoint.path, body, signed(endpoint.secret, body));

      const fast = await post(t.url, endpoint.path, body, signed(endpoint.secret, body));
      const express = await post(t.url, `${endpoint.path}/`, body, signed(endpoint.secret, body));

      expect(fast.status).toBe(200);
      expect(comparable(fast)).toEqual(comparable(express));
      expect(await inboxRows(dataSource, endpoint.tenantId, eventIdOf(body))).toHaveLength(1);
    });

    it.each([
      ['a missing signature', (): Record<string, string> => ({})],
      ['a signature made with another secret', (body: Buffer): Record<string, string> => signed(randomSecret(), body)],
      ['an old timestamp', (body: Buffer): Record<string, string> => ({ 'Stripe-Signature': signStripePayload(PLATFORM_SECRET, body, nowSeconds() - 400) })],
    ])('400 for %s', async (_case, headersFor) => {
      const operator = await createOperatorAuth(t);
      const own = await connectedEndpoint(t, operator);
      const body = stripeEvent();

      const fast = await post(t.url, own.path, body, headersFor(body));
      const express = await post(t.url, `${own.path}/`, body, headersFor(body));

      expect(fast.status).toBe(400);
      expect(comparable(fast)).toEqual(comparable(express));
    });

    it('400 for a signed body that is not a Stripe event', async () => {
      const body = Buffer.from('{"id":"not-an-event"}');

      const fast = await post(t.url, endpoint.path, body, signed(endpoint.secret, body));
      const express = await post(t.url, `${endpoint.path}/`, body, signed(endpoint.secret, body));

      expect(fast.status).toBe(400);
      expect(comparable(fast)).toEqual(comparable(express));
    });

    it('503 for an endpoint secret that cannot be decrypted', async () => {
      const own = await connectedEndpoint(t, await createOperatorAuth(t));
      const [row] = await dataSource.query(`SELECT endpoint_secret_key_id FROM stripe_connections WHERE tenant_id = $1`, [own.tenantId]);
      // A key id missing from APP_ENCRYPTION_KEY, set before any delivery resolves the token.
      await dataSource.query(`UPDATE stripe_connections SET endpoint_secret_key_id = 'gone' WHERE tenant_id = $1`, [own.tenantId]);
      const body = stripeEvent();
      let fast: RawResponse;
      let express: RawResponse;
      try {
        fast = await post(t.url, own.path, body, signed(own.secret, body));
        express = await post(t.url, `${own.path}/`, body, signed(own.secret, body));
      } finally {
        // Later suites decrypt every stored secret.
        await dataSource.query(`UPDATE stripe_connections SET endpoint_secret_key_id = $2 WHERE tenant_id = $1`, [own.tenantId, row.endpoint_secret_key_id]);
      }

      expect(fast.status).toBe(503);
      expect(fast.headers['retry-after']).toBe('60');
      expect(comparable(fast)).toEqual(comparable(express));
    });

    it('404 for an unknown endpoint token', async () => {
      const body = stripeEvent();
      const path = '/webhooks/stripe/wh_UnknownUnknownUnknown0000';

      const fast = await post(t.url, path, body, signed(PLATFORM_SECRET, body));
      const express = await post(t.url, `${path}/`, body, signed(PLATFORM_SECRET, body));

      expect(fast.status).toBe(404);
      expect(comparable(fast)).toEqual(comparable(express));
    });

    it('413 for a body over 1 MiB, sent with a length or chunked', async () => {
      const body = Buffer.alloc(1024 * 1024 + 1, 0x20);

      const fast = await post(t.url, endpoint.path, body);
      const express = await post(t.url, `${endpoint.path}/`, body);
      const chunked = await post(t.url, endpoint.path, body, { 'Transfer-Encoding': 'chunked' });

      expect(fast.status).toBe(413);
      expect(comparable(fast)).toEqual(comparable(express));
      expect(comparable(chunked)).toEqual(comparable(express));
    });

    it('429 with Retry-After once the failures pass the limit', async () => {
      const own = await connectedEndpoint(t, await createOperatorAuth(t));
      const body = stripeEvent();
      for (let attempt = 0; attempt < 3; attempt++) {
        expect((await post(t.url, own.path, body)).status).toBe(400);
      }

      const fast = await post(t.url, own.path, body);
      const express = await post(t.url, `${own.path}/`, body);

      expect(fast.status).toBe(429);
      expect(comparable(fast)).toEqual(comparable(express));
      expect(Number(fast.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });
  });

  describe('leaves other requests to Express', () => {
    it('a GET on the webhook URL', async () => {
      const response = await post(t.url, endpoint.path, Buffer.alloc(0), {}, 'GET');

      expect(response.status).toBe(404);
      expect(JSON.parse(response.body).detail).toBe('No such resource.');
    });

    it('a gzip body, which Express inflates before verifying', async () => {
      const body = stripeEvent();

      const response = await post(t.url, endpoint.path, gzipSync(body), { ...signed(endpoint.secret, body), 'Content-Encoding': 'gzip' });

      expect(response.status).toBe(200);
      const rows = await inboxRows(dataSource, endpoint.tenantId, eventIdOf(body));
      expect(Buffer.compare(rows[0].raw_body, body)).toBe(0);
    });

    it('the API routes', async () => {
      const response = await t.http().get('/health/live');

      expect(response.status).toBe(200);
      expect(response.headers['content-security-policy']).toBeDefined();
    });
  });

  describe('intake metrics', () => {
    it('counts a new event as accepted and a redelivery as duplicate', async () => {
      const body = stripeEvent();
      const acceptedBefore = await metricValue('accepted');
      const duplicateBefore = await metricValue('duplicate');

      await post(t.url, endpoint.path, body, signed(endpoint.secret, body));
      await post(t.url, endpoint.path, body, signed(endpoint.secret, body));
      await post(t.url, `${endpoint.path}/`, body, signed(endpoint.secret, body));

      expect(await metricValue('accepted')).toBe(acceptedBefore + 1);
      expect(await metricValue('duplicate')).toBe(duplicateBefore + 2);
    });

    it('counts each error outcome', async () => {
      const before = {
        signatureInvalid: await metricValue('signature_invalid'),
        notFound: await metricValue('not_found'),
        payloadTooLarge: await metricValue('payload_too_large'),
      };

      await post(t.url, endpoint.path, stripeEvent(), { 'Stripe-Signature': 't=1,v1=00' });
      await post(t.url, '/webhooks/stripe/wh_UnknownUnknownUnknown0001', stripeEvent());
      await post(t.url, endpoint.path, Buffer.alloc(1024 * 1024 + 1, 0x20));

      expect(await metricValue('signature_invalid')).toBe(before.signatureInvalid + 1);
      expect(await metricValue('not_found')).toBe(before.notFound + 1);
      expect(await metricValue('payload_too_large')).toBe(before.payloadTooLarge + 1);
    });
  });

  describe('with PostgreSQL down', () => {
    it('503 as the Express route, counted unavailable', async () => {
      const proxy = await startDatabaseProxy();
      const cut = await startTestApp({ APP_ROLE: 'api', DATABASE_URL: proxy.url, STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET });
      try {
        // Resolve the token once while PostgreSQL is reachable, so the cut fails the insert itself.
        const warm = stripeEvent();
        expect((await post(cut.url, endpoint.path, warm, signed(endpoint.secret, warm))).status).toBe(200);
        await proxy.cut();
        const body = stripeEvent();
        // Both apps of this process count in one metrics registry, and other cases respond with 503 too.
        const unavailableBefore = await metricValue('unavailable', cut);

        const fast = await post(cut.url, endpoint.path, body, signed(endpoint.secret, body));
        const express = await post(cut.url, `${endpoint.path}/`, body, signed(endpoint.secret, body));

        expect(fast.status).toBe(503);
        expect(fast.headers['retry-after']).toBe('5');
        expect(comparable(fast)).toEqual(comparable(express));
        expect(await metricValue('unavailable', cut)).toBe(unavailableBefore + 2);
      } finally {
        await cut.close();
      }
    });
  });

  describe('log lines', () => {
    it('carry the request id on the intake line and the access line', async () => {
      const port = await freePort();
      const child = spawn(process.execPath, [MAIN], {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          APP_ROLE: 'api',
          PORT: String(port),
          DATABASE_URL: TEST_DATABASE_URL,
          REDIS_URL: TEST_REDIS_URL,
          QUEUE_PREFIX: TEST_QUEUE_PREFIX,
          STRIPE_API_BASE: t.emulator.url,
          STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET,
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
      try {
        const baseUrl = `http://127.0.0.1:${port}`;
        await eventually(async () => ((await fetch(`${baseUrl}/health/live`).catch(() => null))?.status === 200 ? true : undefined));

        const response = await post(baseUrl, endpoint.path, stripeEvent(), { 'Stripe-Signature': 't=1,v1=00', 'X-Request-Id': 'intake-route-log-1' });
        expect(response.status).toBe(400);

        const lines = await eventually(async () => {
          const found = output
            .split('\n')
            .filter((line) => line.includes('intake-route-log-1'))
            .map((line) => JSON.parse(line) as { msg: string; req: { id: string; method: string; url: string }; res?: { statusCode: number } });

          return found.length >= 2 ? found : undefined;
        });
        const intake = lines.find((line) => line.msg === 'Rejected a webhook delivery: signature check failed');
        const access = lines.find((line) => line.msg === 'request completed');
        expect(intake?.req).toEqual({ id: 'intake-route-log-1', method: 'POST', url: endpoint.path });
        expect(access?.req).toEqual({ id: 'intake-route-log-1', method: 'POST', url: endpoint.path });
        expect(access?.res).toEqual({ statusCode: 400 });
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});
