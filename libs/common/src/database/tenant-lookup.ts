import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * The SECURITY DEFINER functions that look across tenants, created by the
 * migrations and listed in docs/security.md. They serve lookups that find a
 * tenant before a request has one, logins, the background work that finds
 * its tenants, and operator routes that find the tenant of a row by id or
 * list every tenant's rows. The outbox relay's two functions and the writes
 * of rows without a tenant are left out, because they run inside their
 * caller's transaction.
 */
export type CrossTenantFunction =
  | 'app_authenticate_api_token'
  | 'app_find_active_session'
  | 'app_webhook_endpoint_tenant'
  | 'app_stripe_account_used_elsewhere'
  | 'app_find_tenant_login'
  | 'app_find_operator_login'
  | 'app_replace_password_hash'
  | 'app_purge_expired_idempotency_keys'
  | 'app_find_unfinished_webhook_events'
  | 'app_find_unsent_refunds'
  | 'app_find_unfinished_invoice_stripe_work'
  | 'app_find_tenants_with_overdue_candidates'
  | 'app_find_tenants_to_reconcile'
  | 'app_count_webhook_events_by_status'
  | 'app_count_stripe_connections_by_status'
  | 'app_measure_outbox_backlog'
  | 'app_webhook_event_tenant'
  | 'app_api_token_tenant'
  | 'app_list_tenants'
  | 'app_list_audit_log'
  | 'app_list_webhook_events'
  | 'app_list_api_tokens'
  | 'app_count_webhook_events'
  | 'app_find_webhook_events'
  | 'app_find_tenant_user_identity'
  | 'app_find_session_tenants'
  | 'app_tenant_id_by_slug'
  | 'app_find_unanswered_payments';

interface Pool {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Calls one of the cross-tenant functions on any pooled connection, without
 * setting the connection's scope first. The functions read as their owner and
 * ignore the caller's role and tenant setting, so whatever scope the
 * connection was last given does not change the result, and skipping the
 * scope statement saves a round trip on every authenticated request. Only
 * these functions may be called this way: a plain query here would run in a
 * scope left by another request. A function scalar comes back in the column
 * `result`.
 */
export async function callCrossTenantFunction<T>(dataSource: DataSource, name: CrossTenantFunction, args: unknown[] = []): Promise<T[]> {
  const pool = (dataSource.driver as PostgresDriver).master as Pool;
  const placeholders = args.map((_, index) => `$${index + 1}`).join(', ');
  const { rows } = await pool.query(`SELECT * FROM ${name}(${placeholders}) AS result`, args);

  return rows as T[];
}
