import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, CROSS_TENANT_ROLE, TENANT_TABLES, createRoleIfMissing, enableTenantRowLevelSecurity } from './support/row-level-security';

/**
 * Row-level security: a second wall behind the repositories' tenant filters.
 *
 * - `billing_app` (NOLOGIN, NOINHERIT, no BYPASSRLS) is the role the service's
 *   connections switch to. Its policy admits a row only when `tenant_id` equals
 *   the `app.tenant_id` setting, so with no tenant set it reads and writes nothing.
 * - `billing_app_cross_tenant` (NOLOGIN, no BYPASSRLS) sees every tenant's rows.
 *   It owns the SECURITY DEFINER functions listed in docs/security.md.
 *   `billing_app` is not a member, so a service connection cannot switch to it.
 *
 * Roles belong to the server, not to this database: they are created only when
 * missing and never dropped, because every database of the server shares them.
 * The migrating user stays the tables' owner. FORCE makes the policies bind the
 * owner too, unless it is a superuser, so a later migration that moves tenant
 * rows as a non-superuser owner must `SET LOCAL ROLE billing_app_cross_tenant`.
 */
export class EnableRowLevelSecurity1764905000000 implements MigrationInterface {
  name = 'EnableRowLevelSecurity1764905000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await createRoleIfMissing(queryRunner, APP_ROLE, 'NOLOGIN NOINHERIT NOBYPASSRLS');
    await createRoleIfMissing(queryRunner, CROSS_TENANT_ROLE, 'NOLOGIN NOBYPASSRLS');
    // billing_app used to be made a member of the cross-tenant role here, and migration
    // 1764911200000 revokes that. Every database on the server shares the roles, so a
    // grant here would reopen the membership for all of them until that migration ran.
    // Lets a migrating user that is not a superuser switch its connections to the role.
    await queryRunner.query(`GRANT ${APP_ROLE} TO CURRENT_USER`);

    await queryRunner.query(`GRANT USAGE ON SCHEMA public TO ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    await queryRunner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    await queryRunner.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    // The migration history is the migrating user's alone.
    await queryRunner.query(`REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    // Tables and sequences that later migrations create get the same grants.
    await queryRunner.query(`
      ALTER DEFAULT PRIVILEGES IN SCHEMA public
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    await queryRunner.query(`
      ALTER DEFAULT PRIVILEGES IN SCHEMA public
        GRANT USAGE, SELECT ON SEQUENCES TO ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);

    for (const table of TENANT_TABLES) {
      await enableTenantRowLevelSecurity(queryRunner, table);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [...TENANT_TABLES].reverse()) {
      await queryRunner.query(`DROP POLICY cross_tenant ON ${table}`);
      await queryRunner.query(`DROP POLICY tenant_isolation ON ${table}`);
      await queryRunner.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
      await queryRunner.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`);
    }
    await queryRunner.query(`
      ALTER DEFAULT PRIVILEGES IN SCHEMA public
        REVOKE USAGE, SELECT ON SEQUENCES FROM ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    await queryRunner.query(`
      ALTER DEFAULT PRIVILEGES IN SCHEMA public
        REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    await queryRunner.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    await queryRunner.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    await queryRunner.query(`REVOKE USAGE ON SCHEMA public FROM ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
    // The roles stay: other databases of the server may use them.
  }
}
