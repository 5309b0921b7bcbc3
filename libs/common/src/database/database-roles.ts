/**
 * PostgreSQL roles of the service's connections, created by the row-level
 * security migration. `APP_ROLE` reads and writes only the rows of the tenant
 * in the `app.tenant_id` setting, and every query of the service runs as it.
 * `CROSS_TENANT_ROLE` reads every tenant's rows. It owns the SECURITY DEFINER
 * functions through which the service looks across tenants. `APP_ROLE` is
 * not a member of it, so a login role that holds only `APP_ROLE` (see
 * SERVICE_DATABASE_URL) cannot switch to it.
 */
export const APP_ROLE = 'billing_app';
export const CROSS_TENANT_ROLE = 'billing_app_cross_tenant';

/** The setting the row-level security policies read the current tenant from. */
export const TENANT_SETTING = 'app.tenant_id';

/**
 * The role and tenant a query runs as. An empty tenantId matches no row. The
 * service's scopes always name APP_ROLE. CROSS_TENANT_ROLE is for test code
 * that arranges and inspects every tenant's rows on a superuser's connection.
 */
export interface DatabaseScope {
  role: typeof APP_ROLE | typeof CROSS_TENANT_ROLE;
  tenantId: string;
}
