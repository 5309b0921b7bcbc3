import { MigrationInterface, QueryRunner } from 'typeorm';
import { SecurityDefinerFunction, createSecurityDefinerFunctions } from './support/row-level-security';

const SIGNATURE = 'app_revoke_operator_token(uuid, timestamptz)';

/**
 * Adds revoked_at to what app_revoke_operator_token returns, so that
 * `tokens:revoke` of an operator token revoked before can say when that was.
 * A function's result columns cannot change in place, so it is dropped and
 * created again with the same grants.
 */
const WITH_REVOKED_AT: SecurityDefinerFunction = {
  // Revokes the operator token with this id unless it is revoked already. Returns its role and label, whether this
  // call revoked it, and its revocation time (p_now, or the earlier time); no row for a tenant's token or an unknown id.
  signature: SIGNATURE,
  definition: `
    CREATE FUNCTION app_revoke_operator_token(p_id uuid, p_now timestamptz)
      RETURNS TABLE (id uuid, role text, label text, revoked boolean, revoked_at timestamptz)
      LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      WITH target AS (
        SELECT token.id, token.role, token.label, token.revoked_at FROM api_tokens token WHERE token.id = p_id AND token.tenant_id IS NULL FOR UPDATE
      ), revoked AS (
        UPDATE api_tokens SET revoked_at = p_now
          FROM target
         WHERE api_tokens.id = target.id AND api_tokens.revoked_at IS NULL
        RETURNING api_tokens.id
      )
      SELECT target.id, target.role, target.label, EXISTS (SELECT FROM revoked), coalesce(target.revoked_at, p_now) FROM target
    $$`,
};

/** The definition of 1764911100000-add-operator-write-functions, restored by `down`. */
const WITHOUT_REVOKED_AT: SecurityDefinerFunction = {
  signature: SIGNATURE,
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
};

export class ReturnRevokedAtOfOperatorToken1764911300000 implements MigrationInterface {
  name = 'ReturnRevokedAtOfOperatorToken1764911300000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION ${SIGNATURE}`);
    await createSecurityDefinerFunctions(queryRunner, [WITH_REVOKED_AT]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION ${SIGNATURE}`);
    await createSecurityDefinerFunctions(queryRunner, [WITHOUT_REVOKED_AT]);
  }
}
