import { MigrationInterface, QueryRunner } from 'typeorm';
import { CROSS_TENANT_ROLE, createSecurityDefinerFunction } from './support/row-level-security';

/**
 * The lookups a request must make before it knows its tenant, as SECURITY
 * DEFINER functions: the service's role runs them, but they read as their
 * owner, `billing_app_cross_tenant`, whose policies admit every tenant. Each
 * takes a secret the caller already holds (a token digest, a webhook URL
 * token) and returns only the row that secret names, so it reveals nothing
 * the caller could not already reach. docs/security.md lists them.
 *
 * They are owned by the cross-tenant role and not by the migrating user:
 * under FORCE ROW LEVEL SECURITY an owner that is not a superuser sees no row.
 * search_path is pinned so a caller's temporary objects cannot stand in for
 * the tables.
 */
const FUNCTIONS: { signature: string; definition: string }[] = [
  {
    // The unrevoked API token with this SHA-256 digest, recording its use at most once per `touch_seconds`.
    signature: 'app_authenticate_api_token(text, timestamptz, integer)',
    definition: `
      CREATE FUNCTION app_authenticate_api_token(p_token_hash text, p_now timestamptz, p_touch_seconds integer)
        RETURNS TABLE (id uuid, tenant_id uuid, role text, label text)
        LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        WITH found AS (
          SELECT token.id, token.tenant_id, token.role, token.label, token.last_used_at
            FROM api_tokens token
           WHERE token.token_hash = p_token_hash AND token.revoked_at IS NULL
        ), touched AS (
          UPDATE api_tokens token SET last_used_at = p_now
            FROM found
           WHERE token.id = found.id
             AND (found.last_used_at IS NULL OR found.last_used_at < p_now - make_interval(secs => p_touch_seconds))
        )
        SELECT found.id, found.tenant_id, found.role, found.label FROM found
      $$`,
  },
  {
    // The unrevoked, unexpired session with this SHA-256 digest, and its user's email.
    signature: 'app_find_active_session(text, timestamptz)',
    definition: `
      CREATE FUNCTION app_find_active_session(p_token_hash text, p_now timestamptz)
        RETURNS TABLE (id uuid, user_id uuid, tenant_id uuid, role text, email text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT session.id, session.user_id, session.tenant_id, session.role, identity.email
          FROM sessions session
          JOIN users identity ON identity.id = session.user_id
         WHERE session.token_hash = p_token_hash AND session.revoked_at IS NULL AND session.expires_at > p_now
      $$`,
  },
  {
    // The tenant whose Stripe connection has this webhook endpoint token, or NULL.
    signature: 'app_webhook_endpoint_tenant(text)',
    definition: `
      CREATE FUNCTION app_webhook_endpoint_tenant(p_endpoint_token text)
        RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT connection.tenant_id FROM stripe_connections connection WHERE connection.webhook_endpoint_token = p_endpoint_token
      $$`,
  },
  {
    // Whether a tenant other than p_tenant_id holds keys of this Stripe account in this mode: one account
    // connects to one tenant per mode, and connecting must say so before the unique index would refuse it.
    signature: 'app_stripe_account_used_elsewhere(uuid, text, text)',
    definition: `
      CREATE FUNCTION app_stripe_account_used_elsewhere(p_tenant_id uuid, p_account_id text, p_mode text)
        RETURNS boolean
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
      AS $$
        SELECT EXISTS (
          SELECT FROM stripe_connections connection
           WHERE connection.tenant_id <> p_tenant_id AND connection.account_id = p_account_id
             AND connection.mode = p_mode AND connection.status IN ('connected', 'error')
        )
      $$`,
  },
];

export class AddTenantLookupFunctions1764905001000 implements MigrationInterface {
  name = 'AddTenantLookupFunctions1764905001000';

  async up(queryRunner: QueryRunner): Promise<void> {
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
  }
}
