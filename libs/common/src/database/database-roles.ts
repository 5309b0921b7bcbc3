/**
 * PostgreSQL roles of the service's connections, created by the row-level
 * security migration. `APP_ROLE` reads and writes only the rows of the tenant
 * in the `app.tenant_id` setting. `CROSS_TENANT_ROLE` reads every tenant's rows,
 * and the service uses it only in the paths that CrossTenantPath names and in
 * the SECURITY DEFINER functions it owns.
 */
export const APP_ROLE = 'billing_app';
export const CROSS_TENANT_ROLE = 'billing_app_cross_tenant';

/** The setting the row-level security policies read the current tenant from. */
export const TENANT_SETTING = 'app.tenant_id';

/**
 * The reviewed paths that read or write across tenants with CROSS_TENANT_ROLE,
 * each listed with its reason in docs/security.md. Adding one here is a
 * security review. Background work and lookups made before a request has
 * found its tenant are not here: they run as APP_ROLE and look across tenants
 * only through the SECURITY DEFINER functions of the migrations.
 */
export type CrossTenantPath = 'operator' | 'ops-cli';

/** The role and tenant a query runs as. An empty tenantId matches no row. */
export interface DatabaseScope {
  role: typeof APP_ROLE | typeof CROSS_TENANT_ROLE;
  tenantId: string;
}
