import type { AuditEntryInput, SessionCookieCheck, TenancyFacade, TenantView } from '@app/contracts/tenancy.contracts';
import type { SqlParameters } from '@app/common/database/sql-parameters';
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditLogService } from './audit-log.service';
import { AuthService } from './auth.service';
import { SESSION_COOKIE } from './session-cookie';
import { TenantsRepository } from './tenants.repository';
import { toTenantView } from './tenancy.mappers';

/** The Tenancy facade for the other contexts, bound to TENANCY_FACADE. */
@Injectable()
export class TenancyFacadeService implements TenancyFacade {
  constructor(
    private readonly tenants: TenantsRepository,
    private readonly auditLog: AuditLogService,
    private readonly auth: AuthService,
  ) {}

  async getTenant(tenantId: string, manager?: EntityManager): Promise<TenantView | null> {
    const tenant = await this.tenants.findById(tenantId, manager);

    return tenant ? toTenantView(tenant) : null;
  }

  recordAudit(entry: AuditEntryInput, manager?: EntityManager): Promise<void> {
    return this.auditLog.record(entry, manager);
  }

  auditExpression(parameters: SqlParameters, entry: AuditEntryInput, options: { onlyIfRowsIn: string; detailsPatch?: string }): string {
    return this.auditLog.appendExpression(parameters, entry, options);
  }

  async checkOperatorSession(cookies: Record<string, unknown> | undefined): Promise<SessionCookieCheck> {
    const sessionId = cookies?.[SESSION_COOKIE];
    if (typeof sessionId !== 'string' || sessionId.length === 0) {
      return { status: 'none' };
    }

    const principal = await this.auth.authenticateSession(sessionId);
    if (!principal) {
      return { status: 'none' };
    }

    return principal.role === 'operator' ? { status: 'operator', userId: principal.id, email: principal.label } : { status: 'not_operator' };
  }
}
