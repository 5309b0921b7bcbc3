import { QueryRunner } from 'typeorm';

/*
 * Shared by the row-level security migrations. This folder is not matched by
 * the migrations glob, so nothing here is run as a migration of its own.
 */

export const APP_ROLE = 'billing_app';
export const CROSS_TENANT_ROLE = 'billing_app_cross_tenant';

/**
 * Every table with a tenant_id column. Add a new tenant table here, in a new
 * migration that calls enableTenantRowLevelSecurity; the e2e check of the
 * catalog fails for a tenant table left out.
 */
export const TENANT_TABLES = [
  'api_tokens',
  'audit_log',
  'consumer_aggregate_positions',
  'customers',
  'idempotency_keys',
  'invoice_lines',
  'invoice_number_sequences',
  'invoices',
  'memberships',
  'outbox_aggregate_sequences',
  'outbox_events',
  'payments',
  'processed_messages',
  'refunds',
  'sessions',
  'stripe_connections',
  'webhook_events',
] as const;

/** The tenant the policies admit: NULL, so no row, when the setting is missing or empty. */
const CURRENT_TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;

/** Enable and force row-level security on `table` with the tenant and cross-tenant policies. */
export async function enableTenantRowLevelSecurity(queryRunner: QueryRunner, table: string): Promise<void> {
  await queryRunner.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
  await queryRunner.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
  await queryRunner.query(`
    CREATE POLICY tenant_isolation ON ${table} AS PERMISSIVE FOR ALL TO ${APP_ROLE}
      USING (tenant_id = ${CURRENT_TENANT})
      WITH CHECK (tenant_id = ${CURRENT_TENANT})`);
  await queryRunner.query(`
    CREATE POLICY cross_tenant ON ${table} AS PERMISSIVE FOR ALL TO ${CROSS_TENANT_ROLE}
      USING (true)
      WITH CHECK (true)`);
}

/**
 * Create a role unless it exists. Another database's migration may create it
 * between the check and the CREATE, which raises duplicate_object, or a
 * unique_violation on the catalog; both mean the role is there.
 */
export async function createRoleIfMissing(queryRunner: QueryRunner, role: string, attributes: string): Promise<void> {
  await queryRunner.query(`
    DO $$
    BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN
        CREATE ROLE ${role} ${attributes};
      END IF;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
    END
    $$`);
}

/**
 * Run `definition` (a CREATE FUNCTION … SECURITY DEFINER SET search_path = public, pg_temp)
 * and hand the function to the cross-tenant role, whose policies admit every tenant, so
 * it reads and writes as that role. Functions are executable by PUBLIC by default: only
 * the app role may call these, and the cross-tenant role, which test code uses to arrange
 * rows on a superuser's connection. The caller
 * must hold CREATE on the schema for the cross-tenant role while this runs, unless the
 * migrating user is a superuser.
 */
export async function createSecurityDefinerFunction(queryRunner: QueryRunner, signature: string, definition: string): Promise<void> {
  await queryRunner.query(definition);
  await queryRunner.query(`ALTER FUNCTION ${signature} OWNER TO ${CROSS_TENANT_ROLE}`);
  await queryRunner.query(`REVOKE ALL ON FUNCTION ${signature} FROM PUBLIC`);
  await queryRunner.query(`GRANT EXECUTE ON FUNCTION ${signature} TO ${APP_ROLE}, ${CROSS_TENANT_ROLE}`);
}

/** A SECURITY DEFINER function: its signature for ALTER and DROP, and its CREATE FUNCTION statement. */
export interface SecurityDefinerFunction {
  signature: string;
  definition: string;
}

/**
 * Create `functions` with createSecurityDefinerFunction, granting the
 * migrating user and the cross-tenant role what handing them over needs, and
 * taking CREATE on the schema back afterwards.
 */
export async function createSecurityDefinerFunctions(queryRunner: QueryRunner, functions: SecurityDefinerFunction[]): Promise<void> {
  // Needed to hand the functions to the cross-tenant role when the migrating user is not a superuser.
  await queryRunner.query(`GRANT ${CROSS_TENANT_ROLE} TO CURRENT_USER`);
  // A new owner needs CREATE on the schema, unless a superuser makes the change.
  await queryRunner.query(`GRANT CREATE ON SCHEMA public TO ${CROSS_TENANT_ROLE}`);
  for (const fn of functions) {
    await createSecurityDefinerFunction(queryRunner, fn.signature, fn.definition);
  }
  await queryRunner.query(`REVOKE CREATE ON SCHEMA public FROM ${CROSS_TENANT_ROLE}`);
}

/** Drop `functions` in the reverse order of their creation. */
export async function dropFunctions(queryRunner: QueryRunner, functions: SecurityDefinerFunction[]): Promise<void> {
  for (const fn of [...functions].reverse()) {
    await queryRunner.query(`DROP FUNCTION ${fn.signature}`);
  }
}
