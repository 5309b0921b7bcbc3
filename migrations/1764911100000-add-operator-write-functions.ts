import { MigrationInterface, QueryRunner } from 'typeorm';
import { SecurityDefinerFunction, createSecurityDefinerFunctions, dropFunctions } from './support/row-level-security';

/**
 * The writes of rows without a tenant (operator sessions and tokens, operator
 * identities, platform audit entries) and the two lookups the ops CLI needs
 * before it knows a tenant, as SECURITY DEFINER functions. With them no code
 * path of the service needs the cross-tenant role itself. Each function makes
 * one narrow write or returns ids only; docs/security.md lists them.
 */
const FUNCTIONS: SecurityDefinerFunction[] = [
  {
    // Starts a session of an operator, and deletes that operator's sessions that ended before p_purge_before.
    // No row, and no write, when p_user_id is not an operator.
    signature: 'app_start_operator_session(uuid, text, timestamptz, timestamptz)',
    definition: `
      CREATE FUNCTION app_start_operator_session(p_user_id uuid, p_token_hash text, p_expires_at timestamptz, p_purge_before timestamptz)
        RETURNS TABLE (id uuid)
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        WITH operator AS (
          SELECT identity.id FROM users identity WHERE identity.id = p_user_id AND identity.is_operator
        ), purged AS (
          DELETE FROM sessions ended
           USING operator
           WHERE ended.user_id = operator.id AND ended.tenant_id IS NULL AND coalesce(ended.revoked_at, ended.expires_at) < p_purge_before
        )
        INSERT INTO sessions (token_hash, user_id, tenant_id, role, expires_at)
        SELECT p_token_hash, operator.id, NULL, 'operator', p_expires_at FROM operator
        RETURNING sessions.id
      $$`,
  },
  {
    // Ends the operator session with this id; returns whether it was live. A tenant's session is left alone.
    signature: 'app_end_operator_session(uuid, timestamptz)',
    definition: `
      CREATE FUNCTION app_end_operator_session(p_id uuid, p_now timestamptz)
        RETURNS boolean
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        WITH ended AS (
          UPDATE sessions SET revoked_at = p_now
           WHERE sessions.id = p_id AND sessions.tenant_id IS NULL AND sessions.revoked_at IS NULL
          RETURNING sessions.id
        )
        SELECT EXISTS (SELECT FROM ended)
      $$`,
  },
  {
    // Ends every live session of the operator p_user_id; returns how many there were.
    signature: 'app_revoke_operator_sessions(uuid, timestamptz)',
    definition: `
      CREATE FUNCTION app_revoke_operator_sessions(p_user_id uuid, p_now timestamptz)
        RETURNS integer
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        WITH revoked AS (
          UPDATE sessions SET revoked_at = p_now
           WHERE sessions.user_id = p_user_id AND sessions.tenant_id IS NULL AND sessions.revoked_at IS NULL AND sessions.expires_at > p_now
          RETURNING sessions.id
        )
        SELECT count(*)::integer FROM revoked
      $$`,
  },
  {
    // The tenants in which the user p_user_id has a live session; each then revokes them in its own scope.
    signature: 'app_find_session_tenants(uuid, timestamptz)',
    definition: `
      CREATE FUNCTION app_find_session_tenants(p_user_id uuid, p_now timestamptz)
        RETURNS SETOF uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT DISTINCT session.tenant_id
          FROM sessions session
         WHERE session.user_id = p_user_id AND session.tenant_id IS NOT NULL AND session.revoked_at IS NULL AND session.expires_at > p_now
         ORDER BY session.tenant_id
      $$`,
  },
  {
    // Creates an operator token, which has no tenant, from the SHA-256 digest of the token; returns its id and creation time.
    signature: 'app_create_operator_token(text, text)',
    definition: `
      CREATE FUNCTION app_create_operator_token(p_token_hash text, p_label text)
        RETURNS TABLE (id uuid, created_at timestamptz)
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        INSERT INTO api_tokens (tenant_id, role, label, token_hash)
        VALUES (NULL, 'operator', p_label, p_token_hash)
        RETURNING api_tokens.id, api_tokens.created_at
      $$`,
  },
  {
    // Revokes the operator token with this id unless it is revoked already. Returns its role and label, and
    // whether this call revoked it; no row for a tenant's token or an unknown id.
    signature: 'app_revoke_operator_token(uuid, timestamptz)',
    definition: `
      CREATE FUNCTION app_revoke_operator_token(p_id uuid, p_now timestamptz)
        RETURNS TABLE (id uuid, role text, label text, revoked boolean)
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        WITH target AS (
          SELECT token.id, token.role, token.label FROM api_tokens token WHERE token.id = p_id AND token.tenant_id IS NULL FOR UPDATE
        ), revoked AS (
          UPDATE api_tokens SET revoked_at = p_now
            FROM target
           WHERE api_tokens.id = target.id AND api_tokens.revoked_at IS NULL
          RETURNING api_tokens.id
        )
        SELECT target.id, target.role, target.label, EXISTS (SELECT FROM revoked) FROM target
      $$`,
  },
  {
    // Creates an operator identity; returns its id and creation time. A taken email raises the unique
    // violation of users_operator_email_key.
    signature: 'app_create_operator(text, text)',
    definition: `
      CREATE FUNCTION app_create_operator(p_email text, p_password_hash text)
        RETURNS TABLE (user_id uuid, created_at timestamptz)
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        INSERT INTO users (email, password_hash, is_operator)
        VALUES (p_email, p_password_hash, true)
        RETURNING users.id, users.created_at
      $$`,
  },
  {
    // Writes an audit entry without a tenant, for the operator actions that concern no single tenant only;
    // returns its id, or NULL (and writes nothing) for any other action.
    signature: 'app_record_platform_audit_entry(text, text, text, text, jsonb)',
    definition: `
      CREATE FUNCTION app_record_platform_audit_entry(p_actor_kind text, p_actor_id text, p_actor_label text, p_action text, p_details jsonb)
        RETURNS uuid
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        INSERT INTO audit_log (tenant_id, actor_kind, actor_id, actor_label, action, details)
        SELECT NULL, p_actor_kind, p_actor_id, p_actor_label, p_action, p_details
         WHERE p_action IN ('token.created', 'token.revoked', 'user.created', 'sessions.revoked', 'queue.failed_jobs_retried')
        RETURNING audit_log.id
      $$`,
  },
  {
    // The id of the tenant with this slug, or NULL: how the ops CLI finds a tenant named by slug.
    signature: 'app_tenant_id_by_slug(text)',
    definition: `
      CREATE FUNCTION app_tenant_id_by_slug(p_slug text)
        RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT tenant.id FROM tenants tenant WHERE tenant.slug = p_slug
      $$`,
  },
];

export class AddOperatorWriteFunctions1764911100000 implements MigrationInterface {
  name = 'AddOperatorWriteFunctions1764911100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await createSecurityDefinerFunctions(queryRunner, FUNCTIONS);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await dropFunctions(queryRunner, FUNCTIONS);
  }
}
