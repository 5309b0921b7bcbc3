import type { SqlParameters } from '@app/common/database/sql-parameters';
import { DomainEvent } from '@app/common/events/domain-event';
import type { EntityManager } from 'typeorm';

export interface TenantView {
  id: string;
  slug: string;
  name: string;
  timeZone: string;
  liveModeAllowed: boolean;
}

export interface AuditActor {
  kind: 'user' | 'token' | 'operator' | 'system';
  id: string | null;
  label: string;
}

export interface AuditEntryInput {
  /** Null for operator actions that concern no single tenant. */
  tenantId: string | null;
  action: string;
  /** Never a secret: masked keys at most. */
  details?: Record<string, unknown>;
  /** Defaults to the principal of the current request, or `system` in a job. */
  actor?: AuditActor;
}

/** The owner of a request's session cookie, for routes the auth guard does not cover. */
export type SessionCookieCheck =
  | { status: 'operator'; userId: string; email: string }
  /** A live session of a tenant user. */
  | { status: 'not_operator' }
  /** No session cookie, or an expired, ended or unknown one. */
  | { status: 'none' };

/** What Tenancy offers the other contexts. */
export interface TenancyFacade {
  /** Read a tenant, inside the caller's transaction when a manager is given. */
  getTenant(tenantId: string, manager?: EntityManager): Promise<TenantView | null>;
  /** Write an audit entry, inside the caller's transaction when a manager is given. */
  recordAudit(entry: AuditEntryInput, manager?: EntityManager): Promise<void>;
  /**
   * Write the common table expression `audit_appended`, which records a tenant's entry as part
   * of the caller's statement, only when `options.onlyIfRowsIn`, an earlier expression of that
   * statement with one row, returns it. `options.detailsPatch` is a jsonb expression over that
   * row, merged into the details, for a value the statement itself computes.
   */
  auditExpression(parameters: SqlParameters, entry: AuditEntryInput, options: { onlyIfRowsIn: string; detailsPatch?: string }): string;
  /**
   * Check the session cookie among a request's parsed cookies, for plain
   * Express routes such as the Bull Board dashboard, which the global auth
   * guard does not cover. API tokens never count here.
   */
  checkOperatorSession(cookies: Record<string, unknown> | undefined): Promise<SessionCookieCheck>;
}

export const TENANCY_FACADE = Symbol('TENANCY_FACADE');

export class TenantCreatedEvent extends DomainEvent<{ slug: string; name: string }> {
  static override readonly eventName = 'tenancy.tenant_created';
}

export class LiveModeAllowedEvent extends DomainEvent<{ allowed: boolean }> {
  static override readonly eventName = 'tenancy.live_mode_changed';
}

export interface CreateTenantInput {
  slug: string;
  name: string;
  timeZone?: string;
}

export interface CreateUserInput {
  /** Null creates a platform operator. */
  tenantId: string | null;
  email: string;
  password: string;
  role: 'owner' | 'admin' | 'staff' | 'operator';
}

export interface CreateTokenInput {
  /** Null only with role operator. */
  tenantId: string | null;
  role: 'owner' | 'admin' | 'staff' | 'operator';
  label: string;
}

export interface CreatedToken {
  id: string;
  /** The opaque token, shown once: only its hash is stored. */
  token: string;
  role: string;
  tenantId: string | null;
  label: string;
  createdAt: string;
}

/** A token as listed: never the token itself. */
export interface TokenView {
  id: string;
  role: string;
  tenantId: string | null;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** The outcome of revoking a token. */
export interface TokenRevocation {
  /** True when the token was revoked before this call, which then changed nothing. */
  alreadyRevoked: boolean;
  /** When the token was revoked, as an ISO 8601 timestamp: now, or the earlier time. */
  revokedAt: string;
}

/**
 * Operator actions on tenants, users and tokens, shared by the ops HTTP routes
 * and the ops CLI so both apply the same checks and audit entries.
 */
export interface TenancyAdmin {
  createTenant(input: CreateTenantInput): Promise<TenantView & { status: 'active'; createdAt: string }>;
  /** The tenant with this id, read in that tenant; null when there is none or the id is not a UUID. */
  findTenantById(tenantId: string): Promise<TenantView | null>;
  findTenantBySlug(slug: string): Promise<TenantView | null>;
  /** Every tenant, newest first, one page at a time; `limit` 1..100 (default 25). */
  listTenants(page: { limit?: number; cursor?: string }): Promise<{ data: TenantView[]; nextCursor: string | null }>;
  setLiveModeAllowed(tenantId: string, allowed: boolean): Promise<TenantView>;
  createUser(input: CreateUserInput): Promise<{ id: string; email: string; role: string; tenantId: string | null; createdAt: string }>;
  createToken(input: CreateTokenInput): Promise<CreatedToken>;
  /** Revokes a token by id. A token revoked before stays as it was, and `alreadyRevoked` is then true. */
  revokeToken(tokenId: string): Promise<TokenRevocation>;
  /** Ends every live session of a user (an operator when `operator` is true); their next request with the cookie gets 401. */
  revokeSessions(input: { email: string; operator: boolean }): Promise<{ revoked: number }>;
  /** Tokens newest first, of one tenant or of all; `limit` 1..100 (default 25). */
  listTokens(query: { tenantId?: string; limit?: number; cursor?: string }): Promise<{ data: TokenView[]; nextCursor: string | null }>;
}

export const TENANCY_ADMIN = Symbol('TENANCY_ADMIN');
