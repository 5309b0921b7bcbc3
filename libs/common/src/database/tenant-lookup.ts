import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * The SECURITY DEFINER functions that find a tenant before a request has one,
 * created by the migrations and listed in docs/security.md.
 */
export type TenantLookupFunction = 'app_authenticate_api_token' | 'app_find_active_session' | 'app_webhook_endpoint_tenant' | 'app_stripe_account_used_elsewhere';

interface Pool {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Calls one of the tenant lookup functions on any pooled connection, without
 * setting the connection's scope first. The functions read as their owner and
 * ignore the caller's role and tenant setting, so whatever scope the
 * connection was last given does not change the result, and skipping the
 * scope statement saves a round trip on every authenticated request. Only
 * these functions may be called this way: a plain query here would run in a
 * scope left by another request. A function scalar comes back in the column
 * `result`.
 */
export async function callTenantLookup<T>(dataSource: DataSource, name: TenantLookupFunction, args: unknown[]): Promise<T[]> {
  const pool = (dataSource.driver as PostgresDriver).master as Pool;
  const placeholders = args.map((_, index) => `$${index + 1}`).join(', ');
  const { rows } = await pool.query(`SELECT * FROM ${name}(${placeholders}) AS result`, args);

  return rows as T[];
}
