import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createOperatorAuth, createTenant } from '../support/factories';
import { EmulatorAccount, connectStripe } from '../support/stripe-account';
import { serviceLoginDatabaseUrl } from '../support/service-login';
import { TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';
import { TestApp, eventually, freePort, startTestApp } from '../support/test-app';
import { InboxRow, deliver, eventIdOf, finishedRow, nowSeconds, stripeEvent } from '../webhooks/webhook-helpers';

const run = promisify(execFile);
const CLI = join(__dirname, '..', '..', 'dist', 'src', 'ops', 'cli.js');
/**
 * The CLI connects as a login role that is a member of the app role only, so a command
 * that needed any other role, the cross-tenant one included, would fail.
 */
let cliDatabaseUrl: string;
const PLATFORM_SECRET = `whsec_${randomBytes(24).toString('hex')}`;
const OPERATOR_NAME = 'oncall@example.com';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI against the e2e database and queues, as an on-call engineer would. */
function cli(...args: string[]): Promise<CliResult> {
  return cliWithEnv({}, ...args);
}

/** Run the built CLI with `overrides` on top of the e2e environment. */
async function cliWithEnv(overrides: Record<string, string>, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        DATABASE_URL: cliDatabaseUrl,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: TEST_QUEUE_PREFIX,
        OPS_OPERATOR: OPERATOR_NAME,
        LOG_LEVEL: 'error',
        ...overrides,
      },
      timeout: 30_000,
    });

    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };

    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('ops CLI for webhooks and queues', () => {
  let t: TestApp;
  let dataSource: DataSource;

  beforeAll(async () => {
    cliDatabaseUrl = await serviceLoginDatabaseUrl();
    t = await startTestApp({ STRIPE_WEBHOOK_SECRET: PLATFORM_SECRET });
    dataSource = t.app.get(DataSource);
    await createOperatorAuth(t);
  });

  afterAll(async () => {
    await t.close();
  });

  /** Create a tenant with one failed event: its key is revoked, so confirming a platform-verified event fails at once. */
  async function tenantWithFailedEvent(): Promise<{ slug: string; tenantId: string; auth: { Authorization: string }; account: EmulatorAccount; failed: InboxRow }> {
    const tenant = await createTenant(t);
    const account = await connectStripe(t, tenant.auth);
    const billing = await t.http().get('/api/v1/settings/billing').set(tenant.auth).expect(200);
    await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: account.test.secretKey }).expect(201);
    const body = stripeEvent({ type: 'payment_intent.succeeded', data: { object: { id: `pi_${randomBytes(8).toString('hex')}`, object: 'payment_intent', metadata: {} } } });
    await deliver(t.url, new URL(billing.body.webhook.url as string).pathname, body, signStripePayload(PLATFORM_SECRET, body, nowSeconds())).expect(200);
    const failed = await finishedRow(dataSource, tenant.tenantId, eventIdOf(body));

    return { slug: tenant.slug, tenantId: tenant.tenantId, auth: tenant.auth, account, failed };
  }

  async function fixKeys(tenant: { auth: { Authorization: string }; account: EmulatorAccount }): Promise<void> {
    const keys = await request(t.emulator.url).post(`/_emulator/accounts/${tenant.account.id}/keys`).send({ mode: 'test' }).expect(201);
    await t.http().put('/api/v1/settings/billing/stripe/keys').set(tenant.auth).send({ publishableKey: keys.body.publishableKey, secretKey: keys.body.secretKey }).expect(200);
  }

  describe('webhooks:list', () => {
    it('lists a tenant failed events with reason and attempts', async () => {
      const tenant = await tenantWithFailedEvent();

      const result = await cli('webhooks:list', '--tenant', tenant.slug, '--status', 'failed');

      expect(result.code).toBe(0);
      expect(result.stdout).toContain(tenant.failed.id);
      expect(result.stdout).toMatch(/failed\s+stripe_keys_invalid\s+1\s+payment_intent\.succeeded/);
    });

    it('prints JSON with --json', async () => {
      const tenant = await tenantWithFailedEvent();

      const result = await cli('webhooks:list', '--tenant', tenant.tenantId, '--json');
      const page = JSON.parse(result.stdout) as { data: { id: string; status: string }[]; nextCursor: string | null };

      expect(page.data.map((event) => event.id)).toContain(tenant.failed.id);
    });

    it('rejects an unknown status', async () => {
      const result = await cli('webhooks:list', '--status', 'lost');

      expect(result.code).toBe(1);
      expect(result.stderr).toContain('--status: must be one of received, processing, processed, failed or ignored (got "lost")');
    });
  });

  it('webhooks:list rejects a time without its UTC offset', async () => {
    const result = await cli('webhooks:list', '--since', '2026-12-04T03:00:00');

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--since: must be an ISO 8601 time with its UTC offset, such as 2026-12-04T03:00:00Z (got "2026-12-04T03:00:00")');
  });

  it('webhooks:show prints one event with its payload', async () => {
    const tenant = await tenantWithFailedEvent();

    const result = await cli('webhooks:show', '--id', tenant.failed.id);
    const event = JSON.parse(result.stdout) as { id: string; reason: string; payload: { id: string } };

    expect(result.code).toBe(0);
    expect(event.reason).toBe('stripe_keys_invalid');
    expect(event.payload.id).toBe(tenant.failed.stripe_event_id);
  });

  describe('webhooks:replay', () => {
    it('replays one event and audits it with the operator', async () => {
      const tenant = await tenantWithFailedEvent();
      await fixKeys(tenant);

      const result = await cli('webhooks:replay', '--id', tenant.failed.id);
      const row = await eventually(async () => {
        const [stored] = await dataSource.query(`SELECT * FROM webhook_events WHERE id = $1`, [tenant.failed.id]);

        return stored.status === 'ignored' || stored.status === 'processed' ? (stored as InboxRow) : undefined;
      });
      const audit = await dataSource.query(`SELECT actor_label FROM audit_log WHERE tenant_id = $1 AND action = 'webhook.replayed'`, [tenant.tenantId]);

      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Replayed webhook event ${tenant.failed.id}`);
      expect(row.attempts).toBe(2);
      expect(audit[0].actor_label).toBe(`ops-cli (${OPERATOR_NAME})`);
    });

    it('counts failed events of a tenant in a dry run', async () => {
      const tenant = await tenantWithFailedEvent();

      const result = await cli('webhooks:replay', '--status', 'failed', '--tenant', tenant.slug, '--dry-run');
      const [row] = await dataSource.query(`SELECT status FROM webhook_events WHERE id = $1`, [tenant.failed.id]);

      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Dry run: 1 events would be replayed');
      expect(row.status).toBe('failed');
    });

    it('replays every failed event of a tenant', async () => {
      const tenant = await tenantWithFailedEvent();
      await fixKeys(tenant);

      const result = await cli('webhooks:replay', '--status', 'failed', '--tenant', tenant.slug);

      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Replayed 1 events.');
    });

    it('lists the replayable statuses for an unknown one', async () => {
      const result = await cli('webhooks:replay', '--status', 'bogus');

      expect(result.code).toBe(1);
      expect(result.stderr).toContain('--status: must be one of failed, ignored or processed (got "bogus")');
    });

    it('asks for --status without --id', async () => {
      const result = await cli('webhooks:replay');

      expect(result.code).toBe(1);
      expect(result.stderr).toContain('--status');
    });

    it('refuses an event still being processed', async () => {
      const tenant = await createTenant(t);
      const [row] = await dataSource.query(
        `INSERT INTO webhook_events (tenant_id, stripe_event_id, type, livemode, stripe_created, payload, raw_body, status, verified_by)
         VALUES ($1, $2, 'balance.available', false, 0, '{}', '\\x7b7d', 'processing', 'endpoint') RETURNING id`,
        [tenant.tenantId, `evt_${randomBytes(8).toString('hex')}`],
      );

      const result = await cli('webhooks:replay', '--id', row.id);

      expect(result.code).toBe(1);
      expect(result.stderr).toContain('still being processed');
    });
  });

  describe('queues', () => {
    it('queues:stats prints the counts of every queue', async () => {
      const result = await cli('queues:stats');

      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^QUEUE\s+WAITING\s+ACTIVE\s+DELAYED\s+FAILED\s+COMPLETED\s+PAUSED/);
      expect(result.stdout).toMatch(/webhook-events/);
      expect(result.stdout).toMatch(/domain-events/);
      expect(result.stdout).toMatch(/invoices/);
      expect(result.stdout).toMatch(/payments/);
    });

    it('queues:retry-failed moves failed jobs back', async () => {
      const tenant = await tenantWithFailedEvent();
      await fixKeys(tenant);

      const result = await cli('queues:retry-failed', '--queue', 'webhook-events');
      const row = await eventually(async () => {
        const [stored] = await dataSource.query(`SELECT * FROM webhook_events WHERE id = $1`, [tenant.failed.id]);

        return stored.status !== 'failed' && stored.status !== 'processing' ? (stored as InboxRow) : undefined;
      });

      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Moved (1 failed job|([2-9]|\d{2,}) failed jobs) of webhook-events back to waiting\./);
      expect(row.attempts).toBe(2);
    });

    describe.each([['queues:stats'], ['queues:retry-failed', '--queue', 'webhook-events'], ['webhooks:replay', '--status', 'failed']])('%s without Redis', (...args) => {
      let result: CliResult;

      beforeAll(async () => {
        result = await cliWithEnv({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, ...args);
      });

      it('exits with status 1', () => {
        expect(result.code).toBe(1);
      });

      it('prints one line naming REDIS_URL', () => {
        expect(result.stderr.trim().split('\n')).toHaveLength(1);
        expect(result.stderr).toMatch(/^Error: Cannot connect to Redis at 127\.0\.0\.1:\d+ \(REDIS_URL\): .*ECONNREFUSED/);
        expect(result.stderr).toContain('Check that Redis is running there and that REDIS_URL names the right host, port, database and credentials.');
      });

      it('prints no colours and no stdout', () => {
        expect(result.stderr).not.toContain('\u001b[');
        expect(result.stdout).toBe('');
      });
    });

    it('queues:retry-failed rejects an unknown queue', async () => {
      const result = await cli('queues:retry-failed', '--queue', 'emails');

      expect(result.code).toBe(1);
      expect(result.stderr).toContain('--queue: must be one of webhook-events, domain-events, invoices, payments or maintenance (got "emails")');
    });
  });

  describe('without the database', () => {
    let result: CliResult;
    let port: number;

    beforeAll(async () => {
      port = await freePort();
      result = await cliWithEnv({ DATABASE_URL: `postgres://postgres:secret-password@127.0.0.1:${port}/billing` }, 'tokens:list');
    });

    it('exits with status 1', () => {
      expect(result.code).toBe(1);
    });

    it('prints one line naming DATABASE_URL', () => {
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(new RegExp(`^Error: Cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port} \\(DATABASE_URL\\): .*ECONNREFUSED`));
    });

    it('prints neither colours nor the password', () => {
      expect(result.stderr).not.toContain('\u001b[');
      expect(result.stderr).not.toContain('secret-password');
    });

    it.each([['--help'], ['tokens:create', '--help']])('still prints the help of %s', async (...args) => {
      const help = await cliWithEnv({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/billing`, REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, ...args);

      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: /);
      expect(help.stderr).toBe('');
    });

    it('names a mistyped command instead of the database', async () => {
      const mistyped = await cliWithEnv({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/billing` }, 'tokens:lst');

      expect(mistyped.code).toBe(1);
      expect(mistyped.stderr).toContain("unknown command 'tokens:lst'");
      expect(mistyped.stderr).toContain('tokens:list');
      expect(mistyped.stderr).not.toContain('DATABASE_URL');
    });
  });

  it('tokens:list shows tokens without the tokens themselves', async () => {
    const tenant = await createTenant(t);

    const result = await cli('tokens:list', '--tenant', tenant.slug);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('owner token');
    expect(result.stdout).not.toContain(tenant.auth.Authorization.slice('Bearer '.length));
  });

  it('documents webhooks:replay options in --help', async () => {
    const result = await cli('webhooks:replay', '--help');

    expect(result.stdout).toContain('--dry-run');
    expect(result.stdout).toContain('--status <status>');
  });
});
