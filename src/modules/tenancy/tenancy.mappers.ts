import type { TenantView } from '@app/contracts/tenancy.contracts';
import { ApiTokenEntity } from './api-token.entity';
import { AuditEntryEntity } from './audit-entry.entity';
import { TenantEntity } from './tenant.entity';

/** A tenant as the ops routes return it. */
export interface TenantBody extends TenantView {
  status: 'active';
  createdAt: string;
  updatedAt: string;
}

/** A token as listed: never the token itself. */
export interface TokenBody {
  id: string;
  role: string;
  tenantId: string | null;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface AuditEntryBody {
  id: string;
  tenantId: string | null;
  at: string;
  actor: { kind: AuditEntryEntity['actorKind']; id: string | null; label: string };
  action: string;
  details: Record<string, unknown>;
}

export function toTenantView(tenant: TenantEntity): TenantView {
  return {
    id: tenant.id,
    slug: tenant.slug,
    name: tenant.name,
    timeZone: tenant.timeZone,
    liveModeAllowed: tenant.liveModeAllowed,
  };
}

export function toTenantBody(tenant: TenantEntity): TenantBody {
  return {
    ...toTenantView(tenant),
    status: tenant.status,
    createdAt: tenant.createdAt.toISOString(),
    updatedAt: tenant.updatedAt.toISOString(),
  };
}

export function toTokenBody(token: ApiTokenEntity): TokenBody {
  return {
    id: token.id,
    role: token.role,
    tenantId: token.tenantId,
    label: token.label,
    createdAt: token.createdAt.toISOString(),
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
    revokedAt: token.revokedAt?.toISOString() ?? null,
  };
}

export function toAuditEntryBody(entry: AuditEntryEntity): AuditEntryBody {
  return {
    id: entry.id,
    tenantId: entry.tenantId,
    at: entry.at.toISOString(),
    actor: { kind: entry.actorKind, id: entry.actorId, label: entry.actorLabel },
    action: entry.action,
    details: entry.details,
  };
}
