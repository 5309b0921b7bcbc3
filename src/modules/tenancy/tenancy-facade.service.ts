import type { AuditEntryInput, TenancyFacade, TenantView } from '@app/contracts/tenancy.contracts';
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditLogService } from './audit-log.service';
import { TenantsRepository } from './tenants.repository';
import { toTenantView } from './tenancy.mappers';

/** The Tenancy facade for the other contexts, bound to TENANCY_FACADE. */
@Injectable()
export class TenancyFacadeService implements TenancyFacade {
  constructor(
    private readonly tenants: TenantsRepository,
    private readonly auditLog: AuditLogService,
  ) {}

  async getTenant(tenantId: string): Promise<TenantView | null> {
    const tenant = await this.tenants.findById(tenantId);

    return tenant ? toTenantView(tenant) : null;
  }

  recordAudit(entry: AuditEntryInput, manager?: EntityManager): Promise<void> {
    return this.auditLog.record(entry, manager);
  }
}
