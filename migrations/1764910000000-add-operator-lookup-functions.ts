import { MigrationInterface, QueryRunner } from 'typeorm';
import { SecurityDefinerFunction, createSecurityDefinerFunctions, dropFunctions } from './support/row-level-security';

/**
 * Lookups for operator routes that name a row by id but not its tenant. Each
 * function returns only the tenant id of one row, so the route can then read
 * and change that row in its tenant as `billing_app` instead of with the
 * cross-tenant role. docs/security.md lists them.
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
];

export class AddOperatorLookupFunctions1764910000000 implements MigrationInterface {
  name = 'AddOperatorLookupFunctions1764910000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await createSecurityDefinerFunctions(queryRunner, FUNCTIONS);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await dropFunctions(queryRunner, FUNCTIONS);
  }
}
