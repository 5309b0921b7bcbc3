import { RequestContext } from '@app/common/context/request-context';
import { CROSS_TENANT_ROLE } from '@app/common/database/database-roles';
import { scopeConnections } from '@app/common/database/scoped-connections';
import { StripeEmulator } from '@app/stripe-emulator';
import { ClsServiceManager } from 'nestjs-cls';
import { DataSource } from 'typeorm';
import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createServer } from 'node:net';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { CreateAppOptions, createApp } from '../../src/app.factory';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from './test-env';

export { TEST_QUEUE_PREFIX };

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  /** Base URL the app listens on, e.g. http://127.0.0.1:41234 */
  url: string;
  emulator: StripeEmulator;
  http: () => TestAgent;
  close: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Boot the whole application in this process (all roles unless told
 * otherwise) against the e2e database, the shared Redis and an in-process
 * Stripe emulator that delivers webhooks to this app.
 */
export async function startTestApp(env: Record<string, string> = {}, emulator?: StripeEmulator, options: CreateAppOptions = {}): Promise<TestApp> {
  const stripe = emulator ?? new StripeEmulator({ port: 0, deliveryRetryDelaysMs: [200, 500, 1000, 2000] });
  const ownsEmulator = emulator === undefined;
  if (ownsEmulator) {
    await stripe.start();
  }

  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    STRIPE_API_BASE: stripe.url,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    QUEUE_PREFIX: TEST_QUEUE_PREFIX,
    STRIPE_TIMEOUT_MS: '5000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    // Suites send many requests with one token and many failed logins from
    // 127.0.0.1, so the limits are far above what any suite sends. A suite that
    // tests a limit sets a small one in `env`.
    RATE_LIMIT_API: '1000000/1m',
    RATE_LIMIT_LOGIN: '1000/15m',
    RATE_LIMIT_LOGIN_IP: '1000000/15m',
    RATE_LIMIT_WEBHOOK_FAILURES: '1000000/1m',
    ...env,
  });
  const app = await createApp(config, options);
  // That login role is a member of the app role only, so test code outside a context then runs as the service would.
  if (env.SERVICE_DATABASE_URL === undefined) {
    scopeTestCodeAcrossTenants(app);
  }
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;

  return {
    app,
    config,
    url,
    emulator: stripe,
    http: () => request(url),
    close: async () => {
      await app.close();
      if (ownsEmulator) {
        await stripe.stop();
      }
    },
  };
}

/**
 * Test code that reads or seeds rows, or calls services, outside any request
 * or job runs in no request context. The service gives such code no rows. Here
 * it gets the cross-tenant role instead, as the database owner would, so that
 * tests can arrange and inspect every tenant's rows. Requests and jobs keep their
 * own scope, because they always run in a context.
 * NOTE: so an application path that queries outside any context sees every
 * tenant in these tests but nothing in production; the row-level security
 * suite checks that requests and jobs run in their tenant.
 */
export function scopeTestCodeAcrossTenants(app: INestApplicationContext): void {
  const context = app.get(RequestContext);
  const cls = ClsServiceManager.getClsService();
  scopeConnections(
    app.get(DataSource),
    () => (cls.isActive() ? context.databaseScope() : { role: CROSS_TENANT_ROLE, tenantId: '' }),
    () => context.sharedConnection(),
  );
}

/** Poll until `check` returns a value other than undefined, or fail after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }

  throw new Error(`Condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
}
