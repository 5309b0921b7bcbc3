import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, CROSS_TENANT_ROLE } from './support/row-level-security';

/**
 * Takes `billing_app` out of `billing_app_cross_tenant`. No code path of the
 * service switches to the cross-tenant role any more: rows without a tenant
 * are written, and the ops CLI looks across tenants, through SECURITY DEFINER
 * functions. While the membership lasted, SQL run on a service connection
 * could `SET ROLE billing_app_cross_tenant` and read every tenant.
 *
 * Role memberships belong to the server, so this applies to every database on
 * it. The migrating user keeps its own membership, which handing functions to
 * the cross-tenant role needs.
 */
export class RevokeCrossTenantRoleFromAppRole1764911200000 implements MigrationInterface {
  name = 'RevokeCrossTenantRoleFromAppRole1764911200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Revoking a membership that does not exist is a no-op with a warning.
    await queryRunner.query(`REVOKE ${CROSS_TENANT_ROLE} FROM ${APP_ROLE}`);
    // PostgreSQL 16 and later keep one membership per grantor, and REVOKE removes only the current user's grant.
    const rows: unknown[] = await queryRunner.query(
      `SELECT FROM pg_auth_members WHERE roleid = to_regrole($1) AND member = to_regrole($2)`,
      [CROSS_TENANT_ROLE, APP_ROLE],
    );
    if (rows.length > 0) {
      throw new Error(
        `${APP_ROLE} is still a member of ${CROSS_TENANT_ROLE}: a grant by another role is left. ` +
          `Revoke it as a superuser (REVOKE ${CROSS_TENANT_ROLE} FROM ${APP_ROLE} GRANTED BY <grantor>) and run the migrations again.`,
      );
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`GRANT ${CROSS_TENANT_ROLE} TO ${APP_ROLE}`);
  }
}
