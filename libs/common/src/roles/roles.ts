import { SetMetadata } from '@nestjs/common';

export type TenantRole = 'owner' | 'admin' | 'staff';
export type Role = TenantRole | 'operator';
export const TENANT_ROLES: readonly TenantRole[] = ['owner', 'admin', 'staff'];

/** Who made a request: a tenant user with a session, an API token, or a platform operator. */
export interface Principal {
  kind: 'user' | 'token' | 'operator';
  /** The user's id for sessions and operators, the token's id for tokens. */
  id: string;
  /** A human-readable label for audit entries: an email or a token label. */
  label: string;
  role: Role;
  /** Null for operators. */
  tenantId: string | null;
  userId: string | null;
  via: 'session' | 'token';
  sessionId?: string;
}

export const ROLES_KEY = 'billing:roles';
export const PUBLIC_KEY = 'billing:public';

/** Route needs one of these roles; a route without `@Roles` is for operators only when under /ops. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

/** Route needs no authentication (health, webhooks, login, static pages). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export const OWNER_ADMIN: Role[] = ['owner', 'admin'];
export const ALL_TENANT_ROLES: Role[] = ['owner', 'admin', 'staff'];
