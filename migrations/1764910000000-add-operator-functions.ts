import { MigrationInterface, QueryRunner } from 'typeorm';
import { SecurityDefinerFunction, createSecurityDefinerFunctions, dropFunctions } from './support/row-level-security';

/**
 * The operator routes' reads and writes across tenants, as SECURITY DEFINER
 * functions, so those routes run as `billing_app` instead of with the
 * cross-tenant role. Two lookups return only
 * the tenant id of a row an operator route names by id; the route then reads
 * and changes that row in its tenant. Four list functions return exactly the
 * page an unfiltered operator list returns, newest first, after the keyset
 * (time, id) of the cursor when p_after_time is not NULL, with the keyset time
 * as cursor text (`cursorTimestampSql`). Two find the events a bulk replay
 * without a tenant replays, each then in its tenant, and two more let an
 * operator add a user to a tenant in that tenant. docs/security.md lists them.
 */
const FUNCTIONS: SecurityDefinerFunction[] = [
  {
    // The tenant of the inbox row with this id, or NULL when there is none.
    signature: 'app_webhook_event_tenant(uuid)',
    definition: `
      CREATE FUNCTION app_webhook_event_tenant(p_id uuid)
        RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT event.tenant_id FROM webhook_events event WHERE event.id = p_id
      $$`,
  },
  {
    // The tenant of the API token with this id, or NULL when there is none or it is an operator token.
    signature: 'app_api_token_tenant(uuid)',
    definition: `
      CREATE FUNCTION app_api_token_tenant(p_id uuid)
        RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT token.tenant_id FROM api_tokens token WHERE token.id = p_id
      $$`,
  },
  {
    // A page of every tenant, newest first: what GET /api/v1/ops/tenants returns.
    signature: 'app_list_tenants(timestamptz, uuid, integer)',
    definition: `
      CREATE FUNCTION app_list_tenants(p_after_time timestamptz, p_after_id uuid, p_limit integer)
        RETURNS TABLE (id uuid, slug text, name text, time_zone text, live_mode_allowed boolean, status text,
                       created_at timestamptz, updated_at timestamptz, keyset_time text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT tenant.id, tenant.slug, tenant.name, tenant.time_zone, tenant.live_mode_allowed, tenant.status,
               tenant.created_at, tenant.updated_at, to_char(tenant.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
          FROM tenants tenant
         WHERE p_after_time IS NULL OR (tenant.created_at, tenant.id) < (p_after_time, p_after_id)
         ORDER BY tenant.created_at DESC, tenant.id DESC
         LIMIT p_limit
      $$`,
  },
  {
    // A page of every audit entry, platform-wide ones included, newest first: GET /api/v1/ops/audit-log without tenantId.
    signature: 'app_list_audit_log(timestamptz, uuid, integer)',
    definition: `
      CREATE FUNCTION app_list_audit_log(p_after_time timestamptz, p_after_id uuid, p_limit integer)
        RETURNS TABLE (id uuid, tenant_id uuid, at timestamptz, actor_kind text, actor_id text, actor_label text, action text,
                       details jsonb, keyset_time text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT entry.id, entry.tenant_id, entry.at, entry.actor_kind, entry.actor_id, entry.actor_label, entry.action,
               entry.details, to_char(entry.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
          FROM audit_log entry
         WHERE p_after_time IS NULL OR (entry.at, entry.id) < (p_after_time, p_after_id)
         ORDER BY entry.at DESC, entry.id DESC
         LIMIT p_limit
      $$`,
  },
  {
    // A page of every API token, operator tokens included, newest first, without the token digest:
    // GET /api/v1/ops/tokens without tenantId.
    signature: 'app_list_api_tokens(timestamptz, uuid, integer)',
    definition: `
      CREATE FUNCTION app_list_api_tokens(p_after_time timestamptz, p_after_id uuid, p_limit integer)
        RETURNS TABLE (id uuid, tenant_id uuid, role text, label text, last_used_at timestamptz, revoked_at timestamptz,
                       created_at timestamptz, keyset_time text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT token.id, token.tenant_id, token.role, token.label, token.last_used_at, token.revoked_at, token.created_at,
               to_char(token.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
          FROM api_tokens token
         WHERE p_after_time IS NULL OR (token.created_at, token.id) < (p_after_time, p_after_id)
         ORDER BY token.created_at DESC, token.id DESC
         LIMIT p_limit
      $$`,
  },
  {
    // A page of every tenant's inbox rows, newest first by arrival, without payload or raw body: what
    // GET /api/v1/ops/webhook-events returns without tenantId. A NULL filter matches every row.
    signature: 'app_list_webhook_events(text, text, timestamptz, timestamptz, timestamptz, uuid, integer)',
    definition: `
      CREATE FUNCTION app_list_webhook_events(p_status text, p_type text, p_since timestamptz, p_until timestamptz,
                                              p_after_time timestamptz, p_after_id uuid, p_limit integer)
        RETURNS TABLE (id uuid, tenant_id uuid, stripe_event_id text, type text, livemode boolean, status text, reason text,
                       attempts integer, last_error text, verified_by text, received_at timestamptz, processed_at timestamptz,
                       job_generation integer, keyset_time text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT event.id, event.tenant_id, event.stripe_event_id, event.type, event.livemode, event.status, event.reason,
               event.attempts, event.last_error, event.verified_by, event.received_at, event.processed_at,
               event.job_generation, to_char(event.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
          FROM webhook_events event
         WHERE (p_status IS NULL OR event.status = p_status)
           AND (p_type IS NULL OR event.type = p_type)
           AND (p_since IS NULL OR event.received_at >= p_since)
           AND (p_until IS NULL OR event.received_at < p_until)
           AND (p_after_time IS NULL OR (event.received_at, event.id) < (p_after_time, p_after_id))
         ORDER BY event.received_at DESC, event.id DESC
         LIMIT p_limit
      $$`,
  },
  {
    // The number of every tenant's inbox rows matching the filters (NULL matches all): the bulk replay
    // without tenantId, for its dry run and its `remaining`.
    signature: 'app_count_webhook_events(text, text, timestamptz, timestamptz)',
    definition: `
      CREATE FUNCTION app_count_webhook_events(p_status text, p_type text, p_since timestamptz, p_until timestamptz)
        RETURNS integer
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT count(*)::integer
          FROM webhook_events event
         WHERE (p_status IS NULL OR event.status = p_status)
           AND (p_type IS NULL OR event.type = p_type)
           AND (p_since IS NULL OR event.received_at >= p_since)
           AND (p_until IS NULL OR event.received_at < p_until)
      $$`,
  },
  {
    // Id and tenant of up to p_limit inbox rows of every tenant matching the filters, oldest first: the
    // events a bulk replay without tenantId replays, each in its tenant.
    signature: 'app_find_webhook_events(text, text, timestamptz, timestamptz, integer)',
    definition: `
      CREATE FUNCTION app_find_webhook_events(p_status text, p_type text, p_since timestamptz, p_until timestamptz, p_limit integer)
        RETURNS TABLE (id uuid, tenant_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT event.id, event.tenant_id
          FROM webhook_events event
         WHERE (p_status IS NULL OR event.status = p_status)
           AND (p_type IS NULL OR event.type = p_type)
           AND (p_since IS NULL OR event.received_at >= p_since)
           AND (p_until IS NULL OR event.received_at < p_until)
         ORDER BY event.received_at, event.id
         LIMIT p_limit
      $$`,
  },
  {
    // The login identity (not an operator) with this email and its password hash, or no row. Adding an
    // existing identity to another tenant needs the hash, to check the password the operator gave.
    signature: 'app_find_tenant_user_identity(text)',
    definition: `
      CREATE FUNCTION app_find_tenant_user_identity(p_email text)
        RETURNS TABLE (user_id uuid, email text, password_hash text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT identity.id, identity.email, identity.password_hash FROM users identity WHERE identity.email = p_email AND NOT identity.is_operator
      $$`,
  },
  {
    // Creates a login identity (not an operator) and its membership in the caller's current tenant, in one
    // statement: the app role's policy on users admits only members of the current tenant, which a new
    // identity is not until its membership exists. No row, and no write, without a current tenant.
    signature: 'app_create_tenant_user(text, text, text)',
    definition: `
      CREATE FUNCTION app_create_tenant_user(p_email text, p_password_hash text, p_role text)
        RETURNS TABLE (user_id uuid, created_at timestamptz)
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        WITH current_tenant AS (
          SELECT nullif(current_setting('app.tenant_id', true), '')::uuid AS id
        ), identity AS (
          INSERT INTO users (email, password_hash, is_operator)
          SELECT p_email, p_password_hash, false FROM current_tenant WHERE current_tenant.id IS NOT NULL
          RETURNING users.id
        ), membership AS (
          INSERT INTO memberships (tenant_id, user_id, role)
          SELECT current_tenant.id, identity.id, p_role FROM current_tenant, identity
          RETURNING memberships.user_id, memberships.created_at
        )
        SELECT membership.user_id, membership.created_at FROM membership
      $$`,
  },
];

export class AddOperatorFunctions1764910000000 implements MigrationInterface {
  name = 'AddOperatorFunctions1764910000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await createSecurityDefinerFunctions(queryRunner, FUNCTIONS);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await dropFunctions(queryRunner, FUNCTIONS);
  }
}
