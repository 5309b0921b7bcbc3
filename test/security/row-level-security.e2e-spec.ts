import { RequestContext } from '@app/common/context/request-context';
import { APP_ROLE, CROSS_TENANT_ROLE, DatabaseScope } from '@app/common/database/database-roles';
import { IdempotencyPurger } from '@app/common/idempotency/idempotency.purger';
import { OutboxRelay } from '@app/common/outbox/outbox.relay';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { JOB_SUBMIT_REFUND, QUEUE_PAYMENTS } from '@app/common/queues/queue-names';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { ClsServiceManager } from 'nestjs-cls';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { MarkOverdueInvoicesJob } from '../../src/modules/invoicing/mark-overdue-invoices.job';
import { ReconcileInvoicesJob } from '../../src/modules/invoicing/reconcile-invoices.job';
import { SweepInvoiceJobsJob } from '../../src/modules/invoicing/sweep-invoice-jobs.job';
import { RefundsSweeper } from '../../src/modules/payments/refunds.sweeper';
import { WebhookEventsRepository } from '../../src/modules/webhooks/webhook-events.repository';
import { WebhookEventsSweeper } from '../../src/modules/webhooks/webhook-events.sweeper';
import { DatabaseGaugesCollector } from '../../src/observability/database-gauges.collector';
import { PaymentsRepository } from '../../src/modules/payments/payments.repository';
import { RefundsRepository } from '../../src/modules/payments/refunds.repository';
import { ApiTokensRepository } from '../../src/modules/tenancy/api-tokens.repository';
import { TenantsRepository } from '../../src/modules/tenancy/tenants.repository';
import { TenantFixture, createOperatorAuth, createTenant } from '../support/factories';
import { SERVICE_LOGIN_ROLE, serviceLoginDatabaseUrl } from '../support/service-login';
import { TEST_DATABASE_URL } from '../support/test-env';
import { TestApp, eventually, startTestApp } from '../support/test-app';

interface TenantRow {
  tenant_id: string;
}

/** What a query with its tenant filter left out saw, and who ran it. */
interface UnfilteredView {
  currentUser: string;
  tenantIds: string[];
}

/** Reads the tenant_id of every payment with no tenant filter, and the role the connection runs as. */
async function readUnfiltered(dataSource: DataSource): Promise<UnfilteredView> {
  const [{ current_user: currentUser }]: { current_user: string }[] = await dataSource.query('SELECT current_user');
  const rows: TenantRow[] = await dataSource.query('SELECT DISTINCT tenant_id FROM payments');

  return { currentUser, tenantIds: rows.map((row) => row.tenant_id) };
}

async function insertPayment(dataSource: DataSource, tenantId: string): Promise<string> {
  const [row]: { id: string }[] = await dataSource.query(
    `INSERT INTO payments (tenant_id, status, amount, currency, livemode) VALUES ($1, 'failed', 500, 'usd', false) RETURNING id`,
    [tenantId],
  );

  return row.id;
}

/** Records the scope of every connection checkout until `spy` is restored. */
function recordScopes(context: RequestContext, options: { requestsOnly?: boolean } = {}): { scopes: DatabaseScope[]; spy: jest.SpyInstance } {
  const databaseScope = context.databaseScope.bind(context);
  const scopes: DatabaseScope[] = [];
  const spy = jest.spyOn(context, 'databaseScope').mockImplementation(() => {
    const scope = databaseScope();
    // Background jobs left over from earlier tests run in their own tenants meanwhile; they have no principal.
    if (!options.requestsOnly || context.principal !== undefined) {
      scopes.push(scope);
    }

    return scope;
  });

  return { scopes, spy };
}

/** Lists the TypeScript source files under `directory`, specs left out. */
function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) {
      return sourceFiles(path);
    }

    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Connects as the app role, in `tenantId` or, without one, in no tenant. */
async function connectAsAppRole(tenantId = ''): Promise<Client> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  await client.query(`SELECT set_config('role', $1, false), set_config('app.tenant_id', $2, false)`, [APP_ROLE, tenantId]);

  return client;
}

/** Seeds a tenant with the superuser, which bypasses the policies. */
async function seedTenant(admin: Client, label: string): Promise<{ id: string; slug: string }> {
  const slug = `rls-${label}-${randomUUID().slice(0, 8)}`;
  const { rows } = await admin.query<{ id: string }>(`INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id`, [slug]);

  return { id: rows[0].id, slug };
}

async function seedUser(admin: Client, email: string, isOperator: boolean, memberOf: string[] = []): Promise<string> {
  const { rows } = await admin.query<{ id: string }>(`INSERT INTO users (email, password_hash, is_operator) VALUES ($1, $2, $3) RETURNING id`, [
    email,
    `hash-of-${email}`,
    isOperator,
  ]);
  for (const tenantId of memberOf) {
    await admin.query(`INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'admin')`, [tenantId, rows[0].id]);
  }

  return rows[0].id;
}

/** Seeds a session of `userId`, in `tenantId` or, for an operator, in none, expiring `expiresInSeconds` from now. */
async function seedSession(admin: Client, userId: string, tenantId: string | null, fields: { expiresInSeconds: number; revoked?: boolean }): Promise<string> {
  const { rows } = await admin.query<{ id: string }>(
    `INSERT INTO sessions (token_hash, user_id, tenant_id, role, expires_at, revoked_at)
     VALUES ($1, $2, $3, CASE WHEN $3::uuid IS NULL THEN 'operator' ELSE 'admin' END, now() + make_interval(secs => $4), CASE WHEN $5 THEN now() END)
     RETURNING id`,
    [randomUUID(), userId, tenantId, fields.expiresInSeconds, fields.revoked ?? false],
  );

  return rows[0].id;
}

async function seedWebhookEvent(admin: Client, tenantId: string, status: string, queuedSecondsAgo: number, type = 'rls.probe'): Promise<string> {
  const { rows } = await admin.query<{ id: string }>(
    `INSERT INTO webhook_events (tenant_id, stripe_event_id, type, livemode, stripe_created, payload, raw_body, status, verified_by, queued_at)
     VALUES ($1, $2, $5, false, 0, '{}', '\\x00', $3, 'endpoint', now() - make_interval(secs => $4)) RETURNING id`,
    [tenantId, `evt_${randomUUID()}`, status, queuedSecondsAgo, type],
  );

  return rows[0].id;
}

async function seedRefund(admin: Client, tenantId: string, stripeRefundId: string | null, createdSecondsAgo: number): Promise<string> {
  const payment = await admin.query<{ id: string }>(
    `INSERT INTO payments (tenant_id, status, amount, currency, livemode) VALUES ($1, 'succeeded', 500, 'usd', false) RETURNING id`,
    [tenantId],
  );
  const { rows } = await admin.query<{ id: string }>(
    `INSERT INTO refunds (tenant_id, payment_id, amount, currency, status, stripe_refund_id, origin, created_at)
     VALUES ($1, $2, 100, 'usd', 'pending', $3, 'api', now() - make_interval(secs => $4)) RETURNING id`,
    [tenantId, payment.rows[0].id, stripeRefundId, createdSecondsAgo],
  );

  return rows[0].id;
}

/** Seeds a B2B invoice (no payment) in `status`, last changed an hour ago. */
async function seedInvoice(admin: Client, tenantId: string, status: string, fields: { dueDate?: string; sentAt?: boolean } = {}): Promise<string> {
  const number = status === 'draft' ? null : `INV-2026-${String(Math.floor(Math.random() * 9e8) + 1e8)}`;
  const { rows } = await admin.query<{ id: string }>(
    `INSERT INTO invoices (tenant_id, number, status, currency, total, livemode, due_date, sent_at, updated_at)
     VALUES ($1, $2, $3, 'usd', 1000, false, $4, CASE WHEN $5 THEN now() END, now() - interval '1 hour') RETURNING id`,
    [tenantId, number, status, fields.dueDate ?? null, fields.sentAt ?? false],
  );

  return rows[0].id;
}

async function seedOutboxEvent(admin: Client, tenantId: string, published: boolean): Promise<string> {
  const { rows } = await admin.query<{ id: string }>(
    `INSERT INTO outbox_events (tenant_id, event_name, aggregate_id, payload, occurred_at, published_at)
     VALUES ($1, 'rls.probe', $2, '{}', now(), CASE WHEN $3 THEN now() END) RETURNING id`,
    [tenantId, randomUUID(), published],
  );

  return rows[0].id;
}

async function seedIdempotencyKey(admin: Client, tenantId: string, expiresInSeconds: number): Promise<string> {
  const { rows } = await admin.query<{ id: string }>(
    `INSERT INTO idempotency_keys (tenant_id, method, path, key, request_hash, status, expires_at)
     VALUES ($1, 'POST', '/rls-probe', $2, 'hash', 'running', now() + make_interval(secs => $3)) RETURNING id`,
    [tenantId, randomUUID(), expiresInSeconds],
  );

  return rows[0].id;
}

/** Returns the values of `column` in `rows` that are among `seeded`, so rows other suites left in the database are ignored. */
function seededOnly<T>(rows: Record<string, T>[], column: string, seeded: T[]): T[] {
  return rows.map((row) => row[column]).filter((value) => seeded.includes(value));
}

describe('row-level security', () => {
  let admin: Client;

  beforeAll(async () => {
    admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
  });

  afterAll(async () => {
    await admin.end();
  });

  describe('catalog', () => {
    it('forces a tenant policy on every tenant table', async () => {
      // Partitions are left out: queries reach them through their parent, whose policies apply.
      const { rows } = await admin.query<{ table_name: string; enabled: boolean; forced: boolean; policies: string[] }>(
        `SELECT c.relname AS table_name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
                coalesce(array_agg(p.polname || ':' || pg_get_expr(p.polqual, p.polrelid) || ':' || pg_get_expr(p.polwithcheck, p.polrelid))
                           FILTER (WHERE p.polname IS NOT NULL), '{}') AS policies
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
           LEFT JOIN pg_policy p ON p.polrelid = c.oid
                                AND p.polroles @> ARRAY[(SELECT oid FROM pg_roles WHERE rolname = $1)]
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity
          ORDER BY c.relname`,
        [APP_ROLE],
      );

      expect(rows.length).toBeGreaterThan(10);
      for (const row of rows) {
        expect({ table: row.table_name, enabled: row.enabled }).toEqual({ table: row.table_name, enabled: true });
        expect({ table: row.table_name, forced: row.forced }).toEqual({ table: row.table_name, forced: true });
        expect({ table: row.table_name, policies: row.policies }).toEqual({
          table: row.table_name,
          policies: [expect.stringMatching(/^tenant_isolation:.*current_setting\('app\.tenant_id'.*:.*current_setting\('app\.tenant_id'/)],
        });
      }
    });

    it('creates the service roles without BYPASSRLS or login', async () => {
      const { rows } = await admin.query<{ rolname: string; rolcanlogin: boolean; rolbypassrls: boolean; rolsuper: boolean; rolinherit: boolean }>(
        `SELECT rolname, rolcanlogin, rolbypassrls, rolsuper, rolinherit FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
        [[APP_ROLE, CROSS_TENANT_ROLE]],
      );

      expect(rows).toEqual([
        // NOINHERIT, so the app role does not inherit the cross-tenant role's policies by being its member.
        { rolname: APP_ROLE, rolcanlogin: false, rolbypassrls: false, rolsuper: false, rolinherit: false },
        { rolname: CROSS_TENANT_ROLE, rolcanlogin: false, rolbypassrls: false, rolsuper: false, rolinherit: true },
      ]);
    });

    it('keeps the app role out of the cross-tenant role', async () => {
      const { rows } = await admin.query<{ member: boolean }>(`SELECT pg_has_role($1, $2, 'MEMBER') AS member`, [APP_ROLE, CROSS_TENANT_ROLE]);

      expect(rows).toEqual([{ member: false }]);
    });

    it('forces tenant policies on tenants and users', async () => {
      const { rows } = await admin.query<{ table_name: string; enabled: boolean; forced: boolean; policies: string[] }>(
        `SELECT c.relname AS table_name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
                array_agg(p.polname::text ORDER BY p.polname) FILTER (WHERE p.polname IS NOT NULL) AS policies
           FROM pg_class c
           LEFT JOIN pg_policy p ON p.polrelid = c.oid
          WHERE c.oid IN ('tenants'::regclass, 'users'::regclass)
          GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity
          ORDER BY c.relname`,
      );

      expect(rows).toEqual([
        { table_name: 'tenants', enabled: true, forced: true, policies: ['cross_tenant', 'tenant_isolation'] },
        { table_name: 'users', enabled: true, forced: true, policies: ['cross_tenant', 'tenant_isolation'] },
      ]);
    });

    it('locks down every app function', async () => {
      const { rows } = await admin.query<{ name: string; security_definer: boolean; owner: string; config: string[] | null; public_execute: boolean }>(
        `SELECT p.proname AS name, p.prosecdef AS security_definer, pg_get_userbyid(p.proowner) AS owner, p.proconfig AS config,
                EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl WHERE acl.grantee = 0) AS public_execute
           FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'public' AND p.proname LIKE 'app\\_%'
          ORDER BY p.proname`,
      );

      expect(rows.map((row) => row.name)).toEqual(
        expect.arrayContaining(['app_claim_outbox_batch', 'app_find_tenant_login', 'app_measure_outbox_backlog', 'app_webhook_event_tenant', 'app_api_token_tenant', 'app_list_tenants',
          'app_list_audit_log', 'app_list_webhook_events', 'app_list_api_tokens', 'app_count_webhook_events', 'app_find_webhook_events',
          'app_find_tenant_user_identity', 'app_create_tenant_user', 'app_start_operator_session', 'app_end_operator_session',
          'app_revoke_operator_sessions', 'app_find_session_tenants', 'app_create_operator_token', 'app_revoke_operator_token',
          'app_create_operator', 'app_record_platform_audit_entry', 'app_tenant_id_by_slug']),
      );
      for (const row of rows) {
        expect({ name: row.name, securityDefiner: row.security_definer }).toEqual({ name: row.name, securityDefiner: true });
        expect({ name: row.name, owner: row.owner }).toEqual({ name: row.name, owner: CROSS_TENANT_ROLE });
        expect({ name: row.name, config: row.config }).toEqual({ name: row.name, config: ['search_path=public, pg_temp'] });
        expect({ name: row.name, publicExecute: row.public_execute }).toEqual({ name: row.name, publicExecute: false });
      }
    });
  });

  describe('tenants and users as the app role', () => {
    let tenantA: { id: string; slug: string };
    let tenantB: { id: string; slug: string };
    let alice: string;

    beforeAll(async () => {
      tenantA = await seedTenant(admin, 'a');
      tenantB = await seedTenant(admin, 'b');
      alice = await seedUser(admin, `alice-${randomUUID()}@example.com`, false, [tenantA.id]);
      await seedUser(admin, `bob-${randomUUID()}@example.com`, false, [tenantB.id]);
      await seedUser(admin, `operator-${randomUUID()}@example.com`, true);
    });

    it('shows no tenant and no user without a tenant', async () => {
      const client = await connectAsAppRole();
      try {
        const tenants = await client.query('SELECT id FROM tenants');
        const users = await client.query('SELECT id FROM users');

        expect(tenants.rows).toEqual([]);
        expect(users.rows).toEqual([]);
      } finally {
        await client.end();
      }
    });

    it('shows a tenant its own row and members', async () => {
      const client = await connectAsAppRole(tenantA.id);
      try {
        const tenants = await client.query<{ id: string }>('SELECT id FROM tenants');
        const users = await client.query<{ id: string }>('SELECT id FROM users');

        expect(tenants.rows.map((row) => row.id)).toEqual([tenantA.id]);
        expect(users.rows.map((row) => row.id)).toEqual([alice]);
      } finally {
        await client.end();
      }
    });

    it('refuses a tenant an update of another tenant', async () => {
      const client = await connectAsAppRole(tenantA.id);
      try {
        const renamed = await client.query(`UPDATE tenants SET name = 'taken over' WHERE id = $1`, [tenantB.id]);
        const rehashed = await client.query(`UPDATE users SET password_hash = 'taken over' WHERE id <> $1`, [alice]);

        expect(renamed.rowCount).toBe(0);
        expect(rehashed.rowCount).toBe(0);
      } finally {
        await client.end();
      }
    });
  });

  describe('cross-tenant functions as the app role without a tenant', () => {
    let client: Client;
    let tenantA: { id: string; slug: string };
    let tenantB: { id: string; slug: string };
    let tenantC: { id: string; slug: string };
    const aliceEmail = `alice-${randomUUID()}@example.com`;
    const bobEmail = `bob-${randomUUID()}@example.com`;
    const operatorEmail = `operator-${randomUUID()}@example.com`;
    let alice: string;

    beforeAll(async () => {
      tenantA = await seedTenant(admin, 'a');
      tenantB = await seedTenant(admin, 'b');
      tenantC = await seedTenant(admin, 'c');
      alice = await seedUser(admin, aliceEmail, false, [tenantA.id]);
      await seedUser(admin, bobEmail, false, [tenantB.id]);
      await seedUser(admin, operatorEmail, true);
      client = await connectAsAppRole();
    });

    afterAll(async () => {
      await client.end();
    });

    it('returns a tenant login only for a member', async () => {
      const member = await client.query('SELECT * FROM app_find_tenant_login($1, $2)', [tenantA.slug, aliceEmail]);
      const otherTenant = await client.query('SELECT * FROM app_find_tenant_login($1, $2)', [tenantB.slug, aliceEmail]);
      const operator = await client.query('SELECT * FROM app_find_tenant_login($1, $2)', [tenantA.slug, operatorEmail]);

      expect(member.rows).toEqual([{ user_id: alice, email: aliceEmail, password_hash: `hash-of-${aliceEmail}`, tenant_id: tenantA.id, role: 'admin' }]);
      expect(otherTenant.rows).toEqual([]);
      expect(operator.rows).toEqual([]);
    });

    it('returns an operator login only for an operator', async () => {
      const operator = await client.query<{ email: string }>('SELECT * FROM app_find_operator_login($1)', [operatorEmail]);
      const tenantUser = await client.query('SELECT * FROM app_find_operator_login($1)', [aliceEmail]);

      expect(operator.rows.map((row) => row.email)).toEqual([operatorEmail]);
      expect(tenantUser.rows).toEqual([]);
    });

    it('replaces a password hash only from its current value', async () => {
      const wrong = await client.query('SELECT app_replace_password_hash($1, $2, $3) AS replaced', [alice, 'not-the-hash', 'new-hash']);
      const right = await client.query('SELECT app_replace_password_hash($1, $2, $3) AS replaced', [alice, `hash-of-${aliceEmail}`, 'new-hash']);
      const { rows } = await admin.query('SELECT password_hash FROM users WHERE id = $1', [alice]);

      expect(wrong.rows).toEqual([{ replaced: false }]);
      expect(right.rows).toEqual([{ replaced: true }]);
      expect(rows).toEqual([{ password_hash: 'new-hash' }]);
    });

    it('finds only unfinished webhook events past the grace', async () => {
      const stale = await seedWebhookEvent(admin, tenantA.id, 'received', 3600);
      const processed = await seedWebhookEvent(admin, tenantA.id, 'processed', 3600);
      const fresh = await seedWebhookEvent(admin, tenantB.id, 'processing', 0);

      const { rows } = await client.query('SELECT * FROM app_find_unfinished_webhook_events(60, 100000)');

      expect(seededOnly(rows, 'id', [stale, processed, fresh])).toEqual([stale]);
      expect(Object.keys(rows[0]).sort()).toEqual(['attempts', 'id', 'job_generation', 'tenant_id']);
    });

    it('finds only unsent refunds past the grace', async () => {
      const unsent = await seedRefund(admin, tenantA.id, null, 3600);
      const sent = await seedRefund(admin, tenantA.id, `re_${randomUUID()}`, 3600);
      const fresh = await seedRefund(admin, tenantB.id, null, 0);

      const { rows } = await client.query(`SELECT * FROM app_find_unsent_refunds(now() - interval '1 minute', 100000)`);

      expect(seededOnly(rows, 'id', [unsent, sent, fresh])).toEqual([unsent]);
      expect(Object.keys(rows[0]).sort()).toEqual(['id', 'tenant_id']);
    });

    it('finds only invoices with unfinished Stripe work', async () => {
      const issuing = await seedInvoice(admin, tenantA.id, 'issuing');
      const unsent = await seedInvoice(admin, tenantB.id, 'open');
      const sent = await seedInvoice(admin, tenantB.id, 'open', { sentAt: true });
      const paid = await seedInvoice(admin, tenantC.id, 'paid');

      const { rows } = await client.query('SELECT * FROM app_find_unfinished_invoice_stripe_work(60, 100000)');

      expect(seededOnly(rows, 'id', [issuing, unsent, sent, paid]).sort()).toEqual([issuing, unsent].sort());
      expect(Object.keys(rows[0]).sort()).toEqual(['id', 'status', 'tenant_id']);
    });

    it('finds only tenants with overdue candidates', async () => {
      const overdueTenant = await seedTenant(admin, 'overdue');
      const notDueTenant = await seedTenant(admin, 'not-due');
      await seedInvoice(admin, overdueTenant.id, 'open', { dueDate: '2026-01-01', sentAt: true });
      await seedInvoice(admin, notDueTenant.id, 'open', { dueDate: '2099-01-01', sentAt: true });

      const { rows } = await client.query<{ tenant_id: string }>(`SELECT tenant_id FROM app_find_tenants_with_overdue_candidates('2026-06-01') AS tenant_id`);

      expect(seededOnly(rows, 'tenant_id', [overdueTenant.id, notDueTenant.id])).toEqual([overdueTenant.id]);
    });

    it('finds only tenants with invoices to reconcile', async () => {
      const issuingTenant = await seedTenant(admin, 'issuing');
      const openTenant = await seedTenant(admin, 'open');
      const paidTenant = await seedTenant(admin, 'paid');
      await seedInvoice(admin, issuingTenant.id, 'issuing');
      await seedInvoice(admin, openTenant.id, 'open', { sentAt: true });
      await seedInvoice(admin, paidTenant.id, 'paid');

      const { rows } = await client.query<{ tenant_id: string }>('SELECT tenant_id FROM app_find_tenants_to_reconcile() AS tenant_id');

      expect(seededOnly(rows, 'tenant_id', [issuingTenant.id, openTenant.id, paidTenant.id]).sort()).toEqual([issuingTenant.id, openTenant.id].sort());
    });

    it('claims and marks only unpublished outbox rows', async () => {
      const unpublished = await seedOutboxEvent(admin, tenantA.id, false);
      const published = await seedOutboxEvent(admin, tenantB.id, true);

      await client.query('BEGIN');
      try {
        const claimed = await client.query('SELECT * FROM app_claim_outbox_batch(100000)');
        const marked = await client.query('SELECT app_mark_outbox_published($1::uuid[]) AS marked', [[unpublished, published]]);

        expect(seededOnly(claimed.rows, 'id', [unpublished, published])).toEqual([unpublished]);
        expect(Object.keys(claimed.rows[0]).sort()).toEqual(['aggregate_id', 'aggregate_sequence', 'event_name', 'id', 'occurred_at', 'payload', 'tenant_id']);
        expect(marked.rows).toEqual([{ marked: 1 }]);
      } finally {
        await client.query('ROLLBACK');
      }
    });

    it('purges only expired idempotency keys', async () => {
      const expired = await seedIdempotencyKey(admin, tenantA.id, -60);
      const live = await seedIdempotencyKey(admin, tenantB.id, 3600);

      await client.query('SELECT app_purge_expired_idempotency_keys(100000)');
      const { rows } = await admin.query<{ id: string }>('SELECT id FROM idempotency_keys WHERE id = ANY($1::uuid[])', [[expired, live]]);

      expect(rows.map((row) => row.id)).toEqual([live]);
    });

    it('returns only the tenant of a webhook event by id', async () => {
      const event = await seedWebhookEvent(admin, tenantB.id, 'processed', 0);

      const found = await client.query('SELECT app_webhook_event_tenant($1) AS tenant_id', [event]);
      const unknown = await client.query('SELECT app_webhook_event_tenant($1) AS tenant_id', [randomUUID()]);

      expect(found.rows).toEqual([{ tenant_id: tenantB.id }]);
      expect(unknown.rows).toEqual([{ tenant_id: null }]);
    });

    it('returns the tenant of a token by id, none for an operator token', async () => {
      const insertToken = async (tenantId: string | null, role: string): Promise<string> => {
        const { rows } = await admin.query<{ id: string }>(
          `INSERT INTO api_tokens (tenant_id, role, label, token_hash) VALUES ($1, $2, 'rls probe', $3) RETURNING id`,
          [tenantId, role, randomUUID()],
        );

        return rows[0].id;
      };
      const tenantToken = await insertToken(tenantC.id, 'staff');
      const operatorToken = await insertToken(null, 'operator');

      const tenant = await client.query('SELECT app_api_token_tenant($1) AS tenant_id', [tenantToken]);
      const operator = await client.query('SELECT app_api_token_tenant($1) AS tenant_id', [operatorToken]);
      const unknown = await client.query('SELECT app_api_token_tenant($1) AS tenant_id', [randomUUID()]);

      expect(tenant.rows).toEqual([{ tenant_id: tenantC.id }]);
      expect(operator.rows).toEqual([{ tenant_id: null }]);
      expect(unknown.rows).toEqual([{ tenant_id: null }]);
    });

    it('finds and counts webhook events to replay across tenants', async () => {
      const type = `rls.replay.${randomUUID()}`;
      const older = await seedWebhookEvent(admin, tenantB.id, 'failed', 0, type);
      const newer = await seedWebhookEvent(admin, tenantA.id, 'failed', 0, type);
      await seedWebhookEvent(admin, tenantC.id, 'processed', 0, type);

      const found = await client.query('SELECT * FROM app_find_webhook_events($1, $2, NULL, NULL, 10)', ['failed', type]);
      const counted = await client.query('SELECT app_count_webhook_events($1, $2, NULL, NULL) AS count', ['failed', type]);
      const allStatuses = await client.query('SELECT app_count_webhook_events(NULL, $1, NULL, NULL) AS count', [type]);

      expect(found.rows).toEqual([
        { id: older, tenant_id: tenantB.id },
        { id: newer, tenant_id: tenantA.id },
      ]);
      expect(counted.rows).toEqual([{ count: 2 }]);
      expect(allStatuses.rows).toEqual([{ count: 3 }]);
    });

    it('finds a tenant user identity by email only', async () => {
      const member = await client.query('SELECT * FROM app_find_tenant_user_identity($1)', [bobEmail]);
      const operator = await client.query('SELECT * FROM app_find_tenant_user_identity($1)', [operatorEmail]);

      expect(member.rows.map((row) => row.email)).toEqual([bobEmail]);
      expect(Object.keys(member.rows[0]).sort()).toEqual(['email', 'password_hash', 'user_id']);
      expect(operator.rows).toEqual([]);
    });

    it('creates a tenant user only in the current tenant', async () => {
      const outside = `outside-${randomUUID()}@example.com`;
      const inside = `inside-${randomUUID()}@example.com`;
      const tenantClient = await connectAsAppRole(tenantC.id);
      try {
        const withoutTenant = await client.query(`SELECT * FROM app_create_tenant_user($1, 'hash', 'staff')`, [outside]);
        const inTenant = await tenantClient.query<{ user_id: string }>(`SELECT * FROM app_create_tenant_user($1, 'hash', 'staff')`, [inside]);
        const stored = await admin.query(
          `SELECT users.email, memberships.tenant_id, memberships.role FROM users LEFT JOIN memberships ON memberships.user_id = users.id WHERE users.email = ANY($1)`,
          [[outside, inside]],
        );
        const visible = await tenantClient.query('SELECT email FROM users WHERE id = $1', [inTenant.rows[0].user_id]);

        expect(withoutTenant.rows).toEqual([]);
        expect(stored.rows).toEqual([{ email: inside, tenant_id: tenantC.id, role: 'staff' }]);
        expect(visible.rows).toEqual([{ email: inside }]);
      } finally {
        await tenantClient.end();
      }
    });

    it('starts a session only for an operator', async () => {
      const operator = await seedUser(admin, `operator-${randomUUID()}@example.com`, true);
      const ended = await seedSession(admin, operator, null, { expiresInSeconds: -3 * 86400 });
      const live = await seedSession(admin, operator, null, { expiresInSeconds: 3600 });

      const forMember = await client.query(`SELECT * FROM app_start_operator_session($1, $2, now() + interval '1 hour', now() - interval '1 day')`, [alice, randomUUID()]);
      const forOperator = await client.query<{ id: string }>(`SELECT * FROM app_start_operator_session($1, $2, now() + interval '1 hour', now() - interval '1 day')`, [
        operator,
        randomUUID(),
      ]);
      const { rows } = await admin.query<{ id: string; tenant_id: string | null; role: string }>('SELECT id, tenant_id, role FROM sessions WHERE user_id = $1 ORDER BY created_at', [operator]);

      expect(forMember.rows).toEqual([]);
      expect(forOperator.rows).toHaveLength(1);
      expect(rows.map((row) => row.id).sort()).toEqual([live, forOperator.rows[0].id].sort());
      expect(rows.map((row) => row.id)).not.toContain(ended);
      expect(rows.every((row) => row.tenant_id === null && row.role === 'operator')).toBe(true);
    });

    it('ends and revokes only operator sessions', async () => {
      const operator = await seedUser(admin, `operator-${randomUUID()}@example.com`, true);
      const operatorSession = await seedSession(admin, operator, null, { expiresInSeconds: 3600 });
      const memberSession = await seedSession(admin, alice, tenantA.id, { expiresInSeconds: 3600 });

      const endedMember = await client.query('SELECT app_end_operator_session($1, now()) AS ended', [memberSession]);
      const revokedMember = await client.query('SELECT app_revoke_operator_sessions($1, now()) AS revoked', [alice]);
      const revokedOperator = await client.query('SELECT app_revoke_operator_sessions($1, now()) AS revoked', [operator]);
      const endedAgain = await client.query('SELECT app_end_operator_session($1, now()) AS ended', [operatorSession]);
      const { rows } = await admin.query<{ id: string; revoked: boolean }>('SELECT id, revoked_at IS NOT NULL AS revoked FROM sessions WHERE id = ANY($1)', [
        [operatorSession, memberSession],
      ]);

      expect(endedMember.rows).toEqual([{ ended: false }]);
      expect(revokedMember.rows).toEqual([{ revoked: 0 }]);
      expect(revokedOperator.rows).toEqual([{ revoked: 1 }]);
      expect(endedAgain.rows).toEqual([{ ended: false }]);
      expect(Object.fromEntries(rows.map((row) => [row.id, row.revoked]))).toEqual({ [operatorSession]: true, [memberSession]: false });
    });

    it('finds the tenants of live sessions only', async () => {
      const member = await seedUser(admin, `member-${randomUUID()}@example.com`, false, [tenantA.id, tenantB.id, tenantC.id]);
      await seedSession(admin, member, tenantA.id, { expiresInSeconds: 3600 });
      await seedSession(admin, member, tenantB.id, { expiresInSeconds: -60 });
      await seedSession(admin, member, tenantC.id, { expiresInSeconds: 3600, revoked: true });

      const { rows } = await client.query<{ tenant_id: string }>('SELECT tenant_id FROM app_find_session_tenants($1, now()) AS tenant_id', [member]);

      expect(rows).toEqual([{ tenant_id: tenantA.id }]);
    });

    it('creates and revokes only operator tokens', async () => {
      const tenantToken = await admin.query<{ id: string }>(`INSERT INTO api_tokens (tenant_id, role, label, token_hash) VALUES ($1, 'staff', 'rls probe', $2) RETURNING id`, [
        tenantA.id,
        randomUUID(),
      ]);

      const created = await client.query<{ id: string }>('SELECT id FROM app_create_operator_token($1, $2)', [randomUUID(), 'rls probe']);
      const revokedTenantToken = await client.query('SELECT * FROM app_revoke_operator_token($1, now())', [tenantToken.rows[0].id]);
      const revoked = await client.query('SELECT revoked FROM app_revoke_operator_token($1, now())', [created.rows[0].id]);
      const revokedAgain = await client.query('SELECT revoked FROM app_revoke_operator_token($1, now())', [created.rows[0].id]);
      const { rows } = await admin.query<{ id: string; tenant_id: string | null; role: string; revoked: boolean }>(
        'SELECT id, tenant_id, role, revoked_at IS NOT NULL AS revoked FROM api_tokens WHERE id = ANY($1)',
        [[tenantToken.rows[0].id, created.rows[0].id]],
      );

      expect(revokedTenantToken.rows).toEqual([]);
      expect(revoked.rows).toEqual([{ revoked: true }]);
      expect(revokedAgain.rows).toEqual([{ revoked: false }]);
      expect(rows).toEqual(
        expect.arrayContaining([
          { id: tenantToken.rows[0].id, tenant_id: tenantA.id, role: 'staff', revoked: false },
          { id: created.rows[0].id, tenant_id: null, role: 'operator', revoked: true },
        ]),
      );
    });

    it('creates an operator identity only', async () => {
      const email = `operator-${randomUUID()}@example.com`;

      const created = await client.query<{ user_id: string }>('SELECT user_id FROM app_create_operator($1, $2)', [email, 'hash']);
      const { rows } = await admin.query('SELECT email, is_operator FROM users WHERE id = $1', [created.rows[0].user_id]);
      const memberships = await admin.query('SELECT id FROM memberships WHERE user_id = $1', [created.rows[0].user_id]);

      expect(rows).toEqual([{ email, is_operator: true }]);
      expect(memberships.rows).toEqual([]);
    });

    it('finds a tenant id by slug only', async () => {
      const found = await client.query('SELECT app_tenant_id_by_slug($1) AS id', [tenantB.slug]);
      const missing = await client.query('SELECT app_tenant_id_by_slug($1) AS id', [`missing-${randomUUID()}`]);

      expect(found.rows).toEqual([{ id: tenantB.id }]);
      expect(missing.rows).toEqual([{ id: null }]);
    });

    it('lists the same pages the owner reads', async () => {
      // Four rows in every list, from several tenants, so each list has two full pages of two.
      for (const tenantId of [tenantA.id, tenantB.id, tenantC.id, tenantA.id]) {
        await seedWebhookEvent(admin, tenantId, 'failed', 0);
      }
      await seedWebhookEvent(admin, tenantC.id, 'processed', 0);
      for (const tenantId of [tenantA.id, null, tenantB.id, null]) {
        await admin.query(`INSERT INTO audit_log (tenant_id, actor_kind, actor_label, action) VALUES ($1, 'system', 'probe', 'rls.probe')`, [tenantId]);
        await admin.query(`INSERT INTO api_tokens (tenant_id, role, label, token_hash) VALUES ($1, $2, 'rls probe', $3)`, [
          tenantId,
          tenantId === null ? 'operator' : 'staff',
          randomUUID(),
        ]);
      }
      const cases = [
        { name: 'app_list_tenants', filters: [], table: 'tenants', time: 'created_at', where: 'true' },
        { name: 'app_list_audit_log', filters: [], table: 'audit_log', time: 'at', where: 'true' },
        { name: 'app_list_api_tokens', filters: [], table: 'api_tokens', time: 'created_at', where: 'true' },
        {
          name: 'app_list_webhook_events',
          filters: [null, null, null, null],
          table: 'webhook_events',
          time: 'received_at',
          where: 'true',
        },
        {
          name: 'app_list_webhook_events',
          filters: ['failed', 'rls.probe', '2000-01-01T00:00:00Z', null],
          table: 'webhook_events',
          time: 'received_at',
          where: `status = 'failed' AND type = 'rls.probe' AND received_at >= '2000-01-01T00:00:00Z'`,
        },
      ];

      for (const listCase of cases) {
        const keyset = `to_char(${listCase.time} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
        const expected = await admin.query<{ id: string; keyset_time: string }>(
          `SELECT id, ${keyset} AS keyset_time FROM ${listCase.table} WHERE ${listCase.where} ORDER BY ${listCase.time} DESC, id DESC LIMIT 4`,
        );
        const placeholders = listCase.filters.map((_, index) => `$${index + 1}`);
        const call = `SELECT id, keyset_time FROM ${listCase.name}(${[...placeholders, `$${placeholders.length + 1}`, `$${placeholders.length + 2}`, `$${placeholders.length + 3}`].join(', ')})`;
        const first = await client.query(call, [...listCase.filters, null, null, 2]);
        const after = first.rows[1];
        const second = await client.query(call, [...listCase.filters, after.keyset_time, after.id, 2]);

        expect({ name: listCase.name, rows: [...first.rows, ...second.rows] }).toEqual({ name: listCase.name, rows: expected.rows });
        expect(expected.rows).toHaveLength(4);
      }
      const tokenColumns = await client.query('SELECT * FROM app_list_api_tokens(NULL, NULL, 1)');
      expect(Object.keys(tokenColumns.rows[0])).not.toContain('token_hash');
    });

    it('returns the same counts the owner sees', async () => {
      const webhookCounts = await client.query('SELECT status, count FROM app_count_webhook_events_by_status() ORDER BY status');
      const connectionCounts = await client.query('SELECT status, count FROM app_count_stripe_connections_by_status() ORDER BY status');
      const backlog = await client.query<{ unpublished: number }>('SELECT unpublished FROM app_measure_outbox_backlog()');
      const expectedWebhooks = await admin.query('SELECT status, count(*)::int AS count FROM webhook_events GROUP BY status ORDER BY status');
      const expectedConnections = await admin.query('SELECT status, count(*)::int AS count FROM stripe_connections GROUP BY status ORDER BY status');
      const expectedBacklog = await admin.query<{ unpublished: number }>('SELECT count(*)::int AS unpublished FROM outbox_events WHERE published_at IS NULL');

      expect(webhookCounts.rows).toEqual(expectedWebhooks.rows);
      expect(connectionCounts.rows).toEqual(expectedConnections.rows);
      expect(backlog.rows).toEqual(expectedBacklog.rows);
    });
  });

  describe('with a separate service login role', () => {
    const loginRole = SERVICE_LOGIN_ROLE;
    let t: TestApp;
    let tenant: TenantFixture;

    beforeAll(async () => {
      t = await startTestApp({ SERVICE_DATABASE_URL: await serviceLoginDatabaseUrl() });
      tenant = await createTenant(t);
    });

    afterAll(async () => {
      await t.close();
    });

    it('queries as the app role under the login role', async () => {
      const dataSource = t.app.get(DataSource);
      const context = t.app.get(RequestContext);

      const [row]: { session_user: string; current_user: string }[] = await context.runAsTenant(tenant.tenantId, () =>
        dataSource.query('SELECT session_user, current_user'),
      );

      expect(row).toEqual({ session_user: loginRole, current_user: APP_ROLE });
    });

    it('cannot switch to the table owner', async () => {
      const dataSource = t.app.get(DataSource);
      const context = t.app.get(RequestContext);
      const { rows } = await admin.query<{ owner: string }>(`SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'payments'`);

      const outcome = await context.runAsTenant(tenant.tenantId, () =>
        dataSource.query(`SET ROLE "${rows[0].owner}"`).then(
          () => 'switched',
          (error: Error) => error.message,
        ),
      );

      expect(outcome).toBe(`permission denied to set role "${rows[0].owner}"`);
    });

    it('cannot switch to the cross-tenant role', async () => {
      const dataSource = t.app.get(DataSource);
      const context = t.app.get(RequestContext);

      const outcome = await context.runAsTenant(tenant.tenantId, () =>
        dataSource.query(`SET ROLE ${CROSS_TENANT_ROLE}`).then(
          () => 'switched',
          (error: Error) => error.message,
        ),
      );

      expect(outcome).toBe(`permission denied to set role "${CROSS_TENANT_ROLE}"`);
    });

    it('serves operator logins, tokens and audit entries', async () => {
      const operator = await createOperatorAuth(t);
      const email = `operator-${randomUUID()}@example.com`;
      const password = 'correct horse battery staple';
      await t.app.get<TenancyAdmin>(TENANCY_ADMIN).createUser({ tenantId: null, email, password, role: 'operator' });

      const login = await t.http().post('/api/v1/auth/login').send({ email, password });
      const cookie = String(login.headers['set-cookie']).split(';')[0];
      const created = await t.http().post('/api/v1/ops/tokens').set(operator).send({ role: 'operator', label: 'login role probe' });
      const revoked = await t.http().delete(`/api/v1/ops/tokens/${created.body.id}`).set(operator);
      const retried = await t.http().post('/api/v1/ops/queues/webhook-events/retry-failed').set(operator);
      const logout = await t.http().post('/api/v1/auth/logout').set('Cookie', cookie).set('X-Requested-With', 'fetch');

      expect(login.status).toBe(200);
      expect(created.status).toBe(201);
      expect(revoked.status).toBe(204);
      expect(retried.status).toBe(200);
      expect(logout.status).toBe(204);
    });

    it('serves a tenant request', async () => {
      const response = await t.http().get('/api/v1/payments').set(tenant.auth);

      expect(response.status).toBe(200);
    });
  });

  describe('in the application', () => {
    let t: TestApp;
    let dataSource: DataSource;
    let tenantA: TenantFixture;
    let tenantB: TenantFixture;
    let paymentA: string;
    let paymentB: string;

    beforeAll(async () => {
      t = await startTestApp();
      dataSource = t.app.get(DataSource);
      tenantA = await createTenant(t);
      tenantB = await createTenant(t);
      paymentA = await insertPayment(dataSource, tenantA.tenantId);
      paymentB = await insertPayment(dataSource, tenantB.tenantId);
    });

    afterAll(async () => {
      jest.restoreAllMocks();
      await t.close();
    });

    it('connects as the superuser but queries as the app role', async () => {
      const context = t.app.get(RequestContext);
      const [row]: { current_user: string; session_user: string; is_superuser: string }[] = await context.runAsTenant(tenantA.tenantId, () =>
        dataSource.query(`SELECT current_user, session_user, current_setting('is_superuser') AS is_superuser`),
      );
      const { rows } = await admin.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [row.session_user]);

      expect(rows[0].rolsuper).toBe(true);
      expect(row.current_user).toBe(APP_ROLE);
      expect(row.is_superuser).toBe('off');
    });

    it('keeps the tenant of a connection after a rollback', async () => {
      const context = t.app.get(RequestContext);
      // A tenant id no pooled connection was scoped to, so its scope is set inside START TRANSACTION, which the rollback undoes.
      const tenantId = randomUUID();
      const readScope = 'SELECT current_user, current_setting($1) AS tenant_id';

      const afterRollback = await context.runAsTenant(tenantId, async () => {
        const runner = dataSource.createQueryRunner();
        try {
          await runner.startTransaction();
          await runner.rollbackTransaction();

          return (await runner.query(readScope, ['app.tenant_id'])) as { current_user: string; tenant_id: string }[];
        } finally {
          await runner.release();
        }
      });
      const failed = await context
        .runAsTenant(tenantId, () =>
          dataSource.transaction(async () => {
            throw new Error('rolled back on purpose');
          }),
        )
        .catch((error: Error) => error.message);
      const nextCheckout: { current_user: string; tenant_id: string }[] = await context.runAsTenant(tenantId, () => dataSource.query(readScope, ['app.tenant_id']));

      expect(afterRollback).toEqual([{ current_user: APP_ROLE, tenant_id: tenantId }]);
      expect(failed).toBe('rolled back on purpose');
      expect(nextCheckout).toEqual([{ current_user: APP_ROLE, tenant_id: tenantId }]);
    });

    it('shows a request only its tenant when the filter is left out', async () => {
      const payments = t.app.get(PaymentsRepository);
      const findById = payments.findById.bind(payments);
      const seen: UnfilteredView[] = [];
      const spy = jest.spyOn(payments, 'findById').mockImplementation(async (tenantId, id, manager) => {
        seen.push(await readUnfiltered(dataSource));

        return findById(tenantId, id, manager);
      });

      const response = await t.http().get(`/api/v1/payments/${paymentA}`).set(tenantA.auth);
      spy.mockRestore();

      expect(response.status).toBe(200);
      expect(seen).toEqual([{ currentUser: APP_ROLE, tenantIds: [tenantA.tenantId] }]);
    });

    it('refuses a request a write for another tenant', async () => {
      const payments = t.app.get(PaymentsRepository);
      const findById = payments.findById.bind(payments);
      const outcomes: { insertError: string; updatedRows: number }[] = [];
      const spy = jest.spyOn(payments, 'findById').mockImplementation(async (tenantId, id, manager) => {
        const insertError = await insertPayment(dataSource, tenantB.tenantId).then(
          () => 'inserted',
          (error: Error) => error.message,
        );
        const [, updatedRows]: [unknown, number] = await dataSource.query(`UPDATE payments SET description = 'taken over' WHERE id = $1`, [paymentB]);
        outcomes.push({ insertError, updatedRows });

        return findById(tenantId, id, manager);
      });

      const response = await t.http().get(`/api/v1/payments/${paymentA}`).set(tenantA.auth);
      spy.mockRestore();
      const { rows } = await admin.query<{ description: string | null }>('SELECT description FROM payments WHERE id = $1', [paymentB]);

      expect(response.status).toBe(200);
      expect(outcomes).toEqual([{ insertError: 'new row violates row-level security policy for table "payments"', updatedRows: 0 }]);
      expect(rows[0].description).toBeNull();
    });

    it('shows a job only its tenant when the filter is left out', async () => {
      const refunds = t.app.get(RefundsRepository);
      const seen: UnfilteredView[] = [];
      // The job looks its refund up first; a refund that is not stored ends the job as skipped.
      jest.spyOn(refunds, 'findById').mockImplementation(async () => {
        seen.push(await readUnfiltered(dataSource));

        return null;
      });
      const queue = t.app.get<Queue>(getQueueToken(QUEUE_PAYMENTS));

      const job = await queue.add(JOB_SUBMIT_REFUND, { tenantId: tenantB.tenantId, refundId: randomUUID() }, { jobId: `rls-probe-${randomUUID()}` });
      const state = await eventually(async () => {
        const current = await job.getState();

        return current === 'completed' || current === 'failed' ? current : undefined;
      });

      expect(state).toBe('completed');
      expect(seen).toEqual([{ currentUser: APP_ROLE, tenantIds: [tenantB.tenantId] }]);
    });

    it('shows nothing in a context without a tenant', async () => {
      const cls = ClsServiceManager.getClsService();

      const view = await cls.run({ ifNested: 'override' }, () => readUnfiltered(dataSource));

      expect(view).toEqual({ currentUser: APP_ROLE, tenantIds: [] });
    });

    it('shows an operator nothing outside a tenant', async () => {
      const cls = ClsServiceManager.getClsService();
      const context = t.app.get(RequestContext);

      const view = await cls.run({ ifNested: 'override' }, () => {
        context.setPrincipal({ kind: 'operator', id: randomUUID(), label: 'rls probe', role: 'operator', tenantId: null, userId: null, via: 'token' });

        return readUnfiltered(dataSource);
      });

      expect(view).toEqual({ currentUser: APP_ROLE, tenantIds: [] });
    });

    it('shows an operator route on one tenant only that tenant', async () => {
      const operator = await createOperatorAuth(t);
      const tenants = t.app.get(TenantsRepository);
      const findById = tenants.findById.bind(tenants);
      const seen: UnfilteredView[] = [];
      const spy = jest.spyOn(tenants, 'findById').mockImplementation(async (id, manager) => {
        seen.push(await readUnfiltered(dataSource));

        return findById(id, manager);
      });

      const response = await t.http().get(`/api/v1/ops/tenants/${tenantA.tenantId}`).set(operator);
      spy.mockRestore();

      expect(response.status).toBe(200);
      expect(seen).toEqual([{ currentUser: APP_ROLE, tenantIds: [tenantA.tenantId] }]);
    });

    it('reads and replays an event by id in its tenant', async () => {
      const operator = await createOperatorAuth(t);
      const eventId = await seedWebhookEvent(admin, tenantA.tenantId, 'processed', 0);
      const events = t.app.get(WebhookEventsRepository);
      const findById = events.findById.bind(events);
      const lockById = events.lockById.bind(events);
      const seen: Record<string, UnfilteredView[]> = { show: [], replay: [] };
      const findSpy = jest.spyOn(events, 'findById').mockImplementation(async (id, manager) => {
        seen.show.push(await readUnfiltered(dataSource));

        return findById(id, manager);
      });
      const lockSpy = jest.spyOn(events, 'lockById').mockImplementation(async (manager, id) => {
        seen.replay.push(await readUnfiltered(dataSource));

        return lockById(manager, id);
      });

      const fetched = await t.http().get(`/api/v1/ops/webhook-events/${eventId}`).set(operator);
      const replayed = await t.http().post(`/api/v1/ops/webhook-events/${eventId}/replay`).set(operator);
      const unknown = await t.http().get(`/api/v1/ops/webhook-events/${randomUUID()}`).set(operator);
      findSpy.mockRestore();
      lockSpy.mockRestore();

      expect(fetched.status).toBe(200);
      expect(fetched.body.tenantId).toBe(tenantA.tenantId);
      expect(replayed.status).toBe(200);
      expect(unknown.status).toBe(404);
      expect(seen.show).toEqual([{ currentUser: APP_ROLE, tenantIds: [tenantA.tenantId] }]);
      expect(seen.replay).toEqual([{ currentUser: APP_ROLE, tenantIds: [tenantA.tenantId] }]);
    });

    it('revokes a tenant token by id in its tenant', async () => {
      const operator = await createOperatorAuth(t);
      const tenancy = t.app.get<TenancyAdmin>(TENANCY_ADMIN);
      const tenantToken = await tenancy.createToken({ tenantId: tenantB.tenantId, role: 'staff', label: 'rls probe' });
      const operatorToken = await tenancy.createToken({ tenantId: null, role: 'operator', label: 'rls probe' });
      const tokens = t.app.get(ApiTokensRepository);
      const findByIdForUpdate = tokens.findByIdForUpdate.bind(tokens);
      const seen: UnfilteredView[] = [];
      const spy = jest.spyOn(tokens, 'findByIdForUpdate').mockImplementation(async (id, manager) => {
        seen.push(await readUnfiltered(dataSource));

        return findByIdForUpdate(id, manager);
      });

      const { scopes, spy: scopeSpy } = recordScopes(t.app.get(RequestContext));

      const tenantRevoked = await t.http().delete(`/api/v1/ops/tokens/${tenantToken.id}`).set(operator);
      const operatorRevoked = await t.http().delete(`/api/v1/ops/tokens/${operatorToken.id}`).set(operator);
      spy.mockRestore();
      scopeSpy.mockRestore();
      const { rows } = await admin.query<{ id: string; tenant_id: string | null }>(
        `SELECT id, tenant_id FROM audit_log WHERE action = 'token.revoked' AND details->>'tokenId' = ANY($1) ORDER BY at`,
        [[tenantToken.id, operatorToken.id]],
      );

      expect(tenantRevoked.status).toBe(204);
      expect(operatorRevoked.status).toBe(204);
      // An operator token has no tenant, so it is revoked through a function, without reading it in a scope.
      expect(seen).toEqual([{ currentUser: APP_ROLE, tenantIds: [tenantB.tenantId] }]);
      expect(rows.map((row) => row.tenant_id)).toEqual([tenantB.tenantId, null]);
      expect(scopes.filter((scope) => scope.role !== APP_ROLE)).toEqual([]);
    });

    it('lists across tenants as the app role', async () => {
      const operator = await createOperatorAuth(t);
      const { scopes, spy } = recordScopes(t.app.get(RequestContext));

      const tenants = await t.http().get('/api/v1/ops/tenants?limit=100').set(operator);
      const auditLog = await t.http().get('/api/v1/ops/audit-log').set(operator);
      const webhookEvents = await t.http().get('/api/v1/ops/webhook-events').set(operator);
      const tokens = await t.http().get('/api/v1/ops/tokens?limit=100').set(operator);
      spy.mockRestore();

      expect(tenants.status).toBe(200);
      expect(auditLog.status).toBe(200);
      expect(webhookEvents.status).toBe(200);
      expect(tokens.status).toBe(200);
      expect(tokens.body.data.map((token: { tenantId: string | null }) => token.tenantId)).toEqual(expect.arrayContaining([tenantA.tenantId, null]));
      expect(tenants.body.data.map((tenant: { id: string }) => tenant.id)).toEqual(expect.arrayContaining([tenantA.tenantId, tenantB.tenantId]));
      expect(scopes.filter((scope) => scope.role !== APP_ROLE)).toEqual([]);
    });

    it('creates a tenant in that tenant', async () => {
      const operator = await createOperatorAuth(t);
      const { scopes, spy } = recordScopes(t.app.get(RequestContext), { requestsOnly: true });

      const response = await t.http().post('/api/v1/ops/tenants').set(operator).send({ slug: `rls-new-${randomUUID().slice(0, 8)}`, name: 'New tenant' });
      spy.mockRestore();
      const { rows } = await admin.query<{ tenant_id: string }>(`SELECT tenant_id FROM audit_log WHERE action = 'tenant.created' AND tenant_id = $1`, [
        response.body.id,
      ]);

      expect(response.status).toBe(201);
      expect(rows).toEqual([{ tenant_id: response.body.id }]);
      expect(scopes.length).toBeGreaterThan(0);
      expect(scopes.filter((scope) => scope.role !== APP_ROLE || scope.tenantId !== response.body.id)).toEqual([]);
    });

    it('adds users in their tenant', async () => {
      const operator = await createOperatorAuth(t);
      const tenantC = await createTenant(t);
      const newEmail = `new-${randomUUID()}@example.com`;
      const sharedEmail = `shared-${randomUUID()}@example.com`;
      const password = 'correct horse battery staple';
      const first = await t.http().post(`/api/v1/ops/tenants/${tenantB.tenantId}/users`).set(operator).send({ email: sharedEmail, password, role: 'staff' });
      const { scopes, spy } = recordScopes(t.app.get(RequestContext), { requestsOnly: true });

      const created = await t.http().post(`/api/v1/ops/tenants/${tenantC.tenantId}/users`).set(operator).send({ email: newEmail, password, role: 'admin' });
      const joined = await t.http().post(`/api/v1/ops/tenants/${tenantC.tenantId}/users`).set(operator).send({ email: sharedEmail, password, role: 'staff' });
      const again = await t.http().post(`/api/v1/ops/tenants/${tenantC.tenantId}/users`).set(operator).send({ email: newEmail, password, role: 'admin' });
      spy.mockRestore();
      const { rows } = await admin.query<{ email: string; tenant_id: string }>(
        `SELECT users.email, memberships.tenant_id FROM users JOIN memberships ON memberships.user_id = users.id WHERE users.email = ANY($1) ORDER BY memberships.created_at`,
        [[newEmail, sharedEmail]],
      );

      expect(first.status).toBe(201);
      expect(created.status).toBe(201);
      expect(joined.status).toBe(201);
      expect(joined.body.id).toBe(first.body.id);
      expect(again.status).toBe(409);
      expect(rows).toEqual([
        { email: sharedEmail, tenant_id: tenantB.tenantId },
        { email: newEmail, tenant_id: tenantC.tenantId },
        { email: sharedEmail, tenant_id: tenantC.tenantId },
      ]);
      expect(scopes.length).toBeGreaterThan(0);
      expect(scopes.filter((scope) => scope.role !== APP_ROLE || scope.tenantId !== tenantC.tenantId)).toEqual([]);
    });

    it('replays events across tenants in their tenants', async () => {
      const operator = await createOperatorAuth(t);
      const type = `rls.replay.${randomUUID()}`;
      await seedWebhookEvent(admin, tenantA.tenantId, 'processed', 0, type);
      await seedWebhookEvent(admin, tenantB.tenantId, 'processed', 0, type);
      const { scopes, spy } = recordScopes(t.app.get(RequestContext));

      const dryRun = await t.http().post('/api/v1/ops/webhook-events/replay').set(operator).send({ status: 'processed', type, dryRun: true });
      const replayed = await t.http().post('/api/v1/ops/webhook-events/replay').set(operator).send({ status: 'processed', type });
      spy.mockRestore();

      expect(dryRun.status).toBe(200);
      expect(dryRun.body).toEqual({ wouldReplay: 2 });
      expect(replayed.status).toBe(200);
      expect(replayed.body).toEqual({ replayed: 2, remaining: 0 });
      expect(scopes.filter((scope) => scope.role !== APP_ROLE)).toEqual([]);
      expect(scopes).toContainEqual({ role: APP_ROLE, tenantId: tenantA.tenantId });
      expect(scopes).toContainEqual({ role: APP_ROLE, tenantId: tenantB.tenantId });
    });

    it('runs the background paths as the app role', async () => {
      const cls = ClsServiceManager.getClsService();
      const { scopes, spy } = recordScopes(t.app.get(RequestContext));
      await admin.query(
        `INSERT INTO invoices (tenant_id, number, status, currency, total, livemode, due_date, sent_at)
         VALUES ($1, 'INV-2026-90001', 'open', 'usd', 1000, false, '2026-01-01', now())`,
        [tenantA.tenantId],
      );
      await admin.query(
        `INSERT INTO idempotency_keys (tenant_id, method, path, key, request_hash, status, expires_at)
         VALUES ($1, 'POST', '/rls-probe', $2, 'hash', 'running', now() - interval '1 minute')`,
        [tenantB.tenantId, randomUUID()],
      );
      // Background work runs outside any request, which the test harness would otherwise give the cross-tenant role.
      const inBackground = <T>(work: () => Promise<T>): Promise<T> => cls.run({ ifNested: 'override' }, work);

      const results = {
        relayed: await inBackground(() => t.app.get(OutboxRelay).relayBatch()),
        purged: await inBackground(() => t.app.get(IdempotencyPurger).purge()),
        webhooks: await inBackground(() => t.app.get(WebhookEventsSweeper).sweep()),
        refunds: await inBackground(() => t.app.get(RefundsSweeper).sweep()),
        invoiceJobs: await inBackground(() => t.app.get(SweepInvoiceJobsJob).run()),
        overdue: await inBackground(() => t.app.get(MarkOverdueInvoicesJob).run()),
        reconciliation: await inBackground(() => t.app.get(ReconcileInvoicesJob).fanOut('2000-01-01')),
        gauges: await inBackground(() => t.app.get(DatabaseGaugesCollector).collectWebhookEvents()),
      };
      spy.mockRestore();

      expect(results.purged).toBeGreaterThanOrEqual(1);
      expect(results.overdue.marked).toBeGreaterThanOrEqual(1);
      expect(scopes.length).toBeGreaterThan(0);
      expect(scopes.filter((scope) => scope.role !== APP_ROLE)).toEqual([]);
      // The overdue check marks the invoice in its tenant.
      expect(scopes).toContainEqual({ role: APP_ROLE, tenantId: tenantA.tenantId });
    });

    it('runs operator logins, tokens and queue actions as the app role', async () => {
      const operator = await createOperatorAuth(t);
      const email = `operator-${randomUUID()}@example.com`;
      const password = 'correct horse battery staple';
      await t.app.get<TenancyAdmin>(TENANCY_ADMIN).createUser({ tenantId: null, email, password, role: 'operator' });
      const { scopes, spy } = recordScopes(t.app.get(RequestContext));

      const login = await t.http().post('/api/v1/auth/login').send({ email, password });
      const cookie = String(login.headers['set-cookie']).split(';')[0];
      const me = await t.http().get('/api/v1/auth/me').set('Cookie', cookie);
      const created = await t.http().post('/api/v1/ops/tokens').set(operator).send({ role: 'operator', label: 'rls probe' });
      const listed = await t.http().get('/api/v1/ops/tokens?limit=100').set(operator);
      const revoked = await t.http().delete(`/api/v1/ops/tokens/${created.body.id}`).set(operator);
      const queues = await t.http().get('/api/v1/ops/queues').set(operator);
      const retried = await t.http().post('/api/v1/ops/queues/webhook-events/retry-failed').set(operator);
      const board = await t.http().get('/ops/queues').set('Cookie', cookie);
      const logout = await t.http().post('/api/v1/auth/logout').set('Cookie', cookie).set('X-Requested-With', 'fetch');
      const afterLogout = await t.http().get('/api/v1/auth/me').set('Cookie', cookie);
      spy.mockRestore();
      const { rows } = await admin.query<{ action: string; tenant_id: string | null }>(
        `SELECT action, tenant_id FROM audit_log WHERE (action LIKE 'token.%' AND details->>'tokenId' = $1) OR (action = 'queue.failed_jobs_retried' AND at > now() - interval '1 minute') ORDER BY at`,
        [created.body.id],
      );

      expect(login.status).toBe(200);
      expect(me.body.role).toBe('operator');
      expect(created.status).toBe(201);
      expect(listed.body.data.map((token: { id: string }) => token.id)).toContain(created.body.id);
      expect(revoked.status).toBe(204);
      expect(queues.status).toBe(200);
      expect(retried.status).toBe(200);
      expect(board.status).toBe(200);
      expect(logout.status).toBe(204);
      expect(afterLogout.status).toBe(401);
      expect(rows).toEqual(
        expect.arrayContaining([
          { action: 'token.created', tenant_id: null },
          { action: 'token.revoked', tenant_id: null },
          { action: 'queue.failed_jobs_retried', tenant_id: null },
        ]),
      );
      expect(scopes.filter((scope) => scope.role !== APP_ROLE)).toEqual([]);
    });

    it('never switches the service to the cross-tenant role', () => {
      const root = join(__dirname, '..', '..');
      const sources = [...sourceFiles(join(root, 'src')), ...sourceFiles(join(root, 'libs'))];
      const users = sources
        .filter((path) => /CROSS_TENANT_ROLE|billing_app_cross_tenant|runAcrossTenants/.test(readFileSync(path, 'utf8')))
        .map((path) => path.slice(root.length + 1))
        .sort();

      // Only the constant's definition, which the tests use to arrange rows.
      expect(users).toEqual(['libs/common/src/database/database-roles.ts']);
    });

    it('rejects a platform audit entry for another action', async () => {
      const client = await connectAsAppRole();
      try {
        const { rows } = await client.query(`SELECT app_record_platform_audit_entry('system', NULL, 'rls probe', 'tenant.created', '{}') AS id`);

        expect(rows).toEqual([{ id: null }]);
      } finally {
        await client.end();
      }
    });
  });
});
