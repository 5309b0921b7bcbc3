import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, CROSS_TENANT_ROLE, createSecurityDefinerFunction } from './support/row-level-security';

/**
 * The background work and logins that must look across tenants, as SECURITY
 * DEFINER functions owned by `billing_app_cross_tenant`, so the service runs
 * them as `billing_app` and never switches its connections to the
 * cross-tenant role for them. Each function returns only what its caller needs
 * to find its work (tenant ids and row ids, counts for the gauges, one user's
 * login data), or makes one narrowly defined write. The caller then does the
 * work of each tenant in that tenant. docs/security.md lists them.
 *
 * `tenants` and `users` get row-level security too: a tenant's connection sees
 * its own tenant row and the users who are members of it.
 */
const FUNCTIONS: { signature: string; definition: string }[] = [
  {
    // Locks up to p_limit unpublished outbox rows, oldest first, skipping rows another relay holds.
    // The locks last until the caller's transaction ends, as they did when the relay selected them itself.
    signature: 'app_claim_outbox_batch(integer)',
    definition: `
      CREATE FUNCTION app_claim_outbox_batch(p_limit integer)
        RETURNS TABLE (id uuid, tenant_id uuid, event_name text, aggregate_id text, aggregate_sequence bigint, payload jsonb, occurred_at timestamptz)
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT event.id, event.tenant_id, event.event_name, event.aggregate_id, event.aggregate_sequence, event.payload, event.occurred_at
          FROM outbox_events event
         WHERE event.published_at IS NULL
         ORDER BY event.created_at, event.id
         LIMIT p_limit
           FOR UPDATE SKIP LOCKED
      $$`,
  },
  {
    // Marks these outbox rows published, unless they are already; returns how many changed.
    signature: 'app_mark_outbox_published(uuid[])',
    definition: `
      CREATE FUNCTION app_mark_outbox_published(p_ids uuid[])
        RETURNS integer
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        WITH marked AS (
          UPDATE outbox_events SET published_at = now() WHERE id = ANY(p_ids) AND published_at IS NULL RETURNING 1
        )
        SELECT count(*)::integer FROM marked
      $$`,
  },
  {
    // Deletes up to p_limit expired Idempotency-Key records of any tenant, oldest first; returns how many.
    signature: 'app_purge_expired_idempotency_keys(integer)',
    definition: `
      CREATE FUNCTION app_purge_expired_idempotency_keys(p_limit integer)
        RETURNS integer
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        WITH purged AS (
          DELETE FROM idempotency_keys
           WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at < now() ORDER BY expires_at LIMIT p_limit)
          RETURNING 1
        )
        SELECT count(*)::integer FROM purged
      $$`,
  },
  {
    // Inbox rows still received or processing whose job was added more than p_older_than_seconds ago, oldest first.
    signature: 'app_find_unfinished_webhook_events(integer, integer)',
    definition: `
      CREATE FUNCTION app_find_unfinished_webhook_events(p_older_than_seconds integer, p_limit integer)
        RETURNS TABLE (id uuid, tenant_id uuid, attempts integer, job_generation integer)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT event.id, event.tenant_id, event.attempts, event.job_generation
          FROM webhook_events event
         WHERE event.status IN ('received', 'processing')
           AND event.queued_at < now() - make_interval(secs => p_older_than_seconds)
         ORDER BY event.queued_at
         LIMIT p_limit
      $$`,
  },
  {
    // Refunds still pending without a Stripe id, created before p_created_before, oldest first.
    signature: 'app_find_unsent_refunds(timestamptz, integer)',
    definition: `
      CREATE FUNCTION app_find_unsent_refunds(p_created_before timestamptz, p_limit integer)
        RETURNS TABLE (tenant_id uuid, id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT refund.tenant_id, refund.id
          FROM refunds refund
         WHERE refund.status = 'pending' AND refund.stripe_refund_id IS NULL AND refund.created_at < p_created_before
         ORDER BY refund.created_at
         LIMIT p_limit
      $$`,
  },
  {
    // Invoices whose Stripe side is unfinished (issuing, open but not sent, void but not voided in Stripe)
    // and unchanged for p_grace_seconds, oldest first.
    signature: 'app_find_unfinished_invoice_stripe_work(integer, integer)',
    definition: `
      CREATE FUNCTION app_find_unfinished_invoice_stripe_work(p_grace_seconds integer, p_limit integer)
        RETURNS TABLE (tenant_id uuid, id uuid, status text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT invoice.tenant_id, invoice.id, invoice.status
          FROM invoices invoice
         WHERE (invoice.status = 'issuing'
                OR (invoice.status = 'open' AND invoice.sent_at IS NULL)
                OR (invoice.status = 'void' AND invoice.payment_id IS NULL AND invoice.stripe_void_confirmed_at IS NULL))
           AND invoice.updated_at < now() - make_interval(secs => p_grace_seconds)
         ORDER BY invoice.updated_at
         LIMIT p_limit
      $$`,
  },
  {
    // The tenants with open invoices, not yet overdue, due on or before p_latest_due_date.
    signature: 'app_find_tenants_with_overdue_candidates(date)',
    definition: `
      CREATE FUNCTION app_find_tenants_with_overdue_candidates(p_latest_due_date date)
        RETURNS SETOF uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT DISTINCT invoice.tenant_id
          FROM invoices invoice
         WHERE invoice.status = 'open' AND NOT invoice.overdue AND invoice.due_date <= p_latest_due_date
      $$`,
  },
  {
    // The tenants with B2B invoices that Stripe still decides about, or whose Stripe side is unfinished.
    signature: 'app_find_tenants_to_reconcile()',
    definition: `
      CREATE FUNCTION app_find_tenants_to_reconcile()
        RETURNS SETOF uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT DISTINCT invoice.tenant_id
          FROM invoices invoice
         WHERE invoice.payment_id IS NULL
           AND (invoice.status IN ('issuing', 'open', 'uncollectible')
                OR (invoice.status = 'open' AND invoice.sent_at IS NULL)
                OR (invoice.status = 'void' AND invoice.stripe_void_confirmed_at IS NULL))
      $$`,
  },
  {
    // The number of inbox rows in each status, over every tenant.
    signature: 'app_count_webhook_events_by_status()',
    definition: `
      CREATE FUNCTION app_count_webhook_events_by_status()
        RETURNS TABLE (status text, count integer)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT event.status, count(*)::integer FROM webhook_events event GROUP BY event.status
      $$`,
  },
  {
    // The number of Stripe connections in each status, over every tenant.
    signature: 'app_count_stripe_connections_by_status()',
    definition: `
      CREATE FUNCTION app_count_stripe_connections_by_status()
        RETURNS TABLE (status text, count integer)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT connection.status, count(*)::integer FROM stripe_connections connection GROUP BY connection.status
      $$`,
  },
  {
    // The number of unpublished outbox rows, and the age in seconds of the oldest (0 when there is none).
    signature: 'app_measure_outbox_backlog()',
    definition: `
      CREATE FUNCTION app_measure_outbox_backlog()
        RETURNS TABLE (unpublished integer, lag_seconds double precision)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT count(*)::integer, COALESCE(EXTRACT(EPOCH FROM now() - min(event.created_at)), 0)::float8
          FROM outbox_events event
         WHERE event.published_at IS NULL
      $$`,
  },
  {
    // What a login to a tenant needs: the user with this email, its password hash and its role in the
    // tenant with this slug. No row unless the tenant exists and the user is a member of it.
    signature: 'app_find_tenant_login(text, text)',
    definition: `
      CREATE FUNCTION app_find_tenant_login(p_tenant_slug text, p_email text)
        RETURNS TABLE (user_id uuid, email text, password_hash text, tenant_id uuid, role text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT identity.id, identity.email, identity.password_hash, tenant.id, membership.role
          FROM tenants tenant
          JOIN memberships membership ON membership.tenant_id = tenant.id
          JOIN users identity ON identity.id = membership.user_id
         WHERE tenant.slug = p_tenant_slug AND identity.email = p_email AND NOT identity.is_operator
      $$`,
  },
  {
    // What an operator login needs: the operator with this email and its password hash, or no row.
    signature: 'app_find_operator_login(text)',
    definition: `
      CREATE FUNCTION app_find_operator_login(p_email text)
        RETURNS TABLE (user_id uuid, email text, password_hash text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT identity.id, identity.email, identity.password_hash FROM users identity WHERE identity.email = p_email AND identity.is_operator
      $$`,
  },
  {
    // Replaces a user's password hash, but only while it is still p_current_hash: the caller has just
    // verified the password against that hash, so it can only re-hash a password it was given.
    signature: 'app_replace_password_hash(uuid, text, text)',
    definition: `
      CREATE FUNCTION app_replace_password_hash(p_user_id uuid, p_current_hash text, p_new_hash text)
        RETURNS boolean
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        WITH replaced AS (
          UPDATE users SET password_hash = p_new_hash WHERE id = p_user_id AND password_hash = p_current_hash RETURNING 1
        )
        SELECT EXISTS (SELECT FROM replaced)
      $$`,
  },
];

/** The tenant the policies admit: NULL, so no row, when the setting is missing or empty. */
const CURRENT_TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;

/** Per table: the row-level security condition for the app role on `tenants` and `users`. */
const IDENTITY_POLICIES: { table: string; condition: string }[] = [
  { table: 'tenants', condition: `id = ${CURRENT_TENANT}` },
  // memberships has its own tenant policy, so the subquery sees only the current tenant's memberships.
  { table: 'users', condition: `EXISTS (SELECT FROM memberships membership WHERE membership.user_id = users.id AND membership.tenant_id = ${CURRENT_TENANT})` },
];

export class AddCrossTenantFunctions1764908000000 implements MigrationInterface {
  name = 'AddCrossTenantFunctions1764908000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const { table, condition } of IDENTITY_POLICIES) {
      await queryRunner.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await queryRunner.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await queryRunner.query(`
        CREATE POLICY tenant_isolation ON ${table} AS PERMISSIVE FOR ALL TO ${APP_ROLE}
          USING (${condition})
          WITH CHECK (${condition})`);
      await queryRunner.query(`
        CREATE POLICY cross_tenant ON ${table} AS PERMISSIVE FOR ALL TO ${CROSS_TENANT_ROLE}
          USING (true)
          WITH CHECK (true)`);
    }

    // Needed to hand the functions to the cross-tenant role when the migrating user is not a superuser.
    await queryRunner.query(`GRANT ${CROSS_TENANT_ROLE} TO CURRENT_USER`);
    // A new owner needs CREATE on the schema, unless a superuser makes the change; it is taken back below.
    await queryRunner.query(`GRANT CREATE ON SCHEMA public TO ${CROSS_TENANT_ROLE}`);
    for (const fn of FUNCTIONS) {
      await createSecurityDefinerFunction(queryRunner, fn.signature, fn.definition);
    }
    await queryRunner.query(`REVOKE CREATE ON SCHEMA public FROM ${CROSS_TENANT_ROLE}`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const fn of [...FUNCTIONS].reverse()) {
      await queryRunner.query(`DROP FUNCTION ${fn.signature}`);
    }
    for (const { table } of [...IDENTITY_POLICIES].reverse()) {
      await queryRunner.query(`DROP POLICY cross_tenant ON ${table}`);
      await queryRunner.query(`DROP POLICY tenant_isolation ON ${table}`);
      await queryRunner.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
      await queryRunner.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`);
    }
  }
}
