import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditEntryEntity } from './audit-entry.entity';
import { Page, PageRequest, fetchFunctionPage, fetchPage } from './keyset-page';

/** A row of app_list_audit_log. */
interface AuditEntryRow {
  id: string;
  tenant_id: string | null;
  at: Date;
  actor_kind: AuditEntryEntity['actorKind'];
  actor_id: string | null;
  actor_label: string;
  action: string;
  details: Record<string, unknown>;
  keyset_time: string;
}

@Injectable()
export class AuditLogRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(entry: Omit<AuditEntryEntity, 'id' | 'at'>, manager?: EntityManager): Promise<void> {
    const repository = (manager ?? this.dataSource.manager).getRepository(AuditEntryEntity);
    await repository.save(repository.create(entry));
  }

  /** Lists one tenant's entries, newest first. */
  list(tenantId: string, page: PageRequest): Promise<Page<AuditEntryEntity>> {
    const query = this.dataSource.getRepository(AuditEntryEntity).createQueryBuilder('entry').where('entry.tenant_id = :tenantId', { tenantId });

    return fetchPage(query, 'entry', 'at', page);
  }

  /**
   * Lists every entry, platform-wide ones included, newest first, through
   * the SECURITY DEFINER function app_list_audit_log.
   */
  listAcrossTenants(page: PageRequest): Promise<Page<AuditEntryEntity>> {
    return fetchFunctionPage(this.dataSource, 'app_list_audit_log', page, (row: AuditEntryRow) =>
      this.dataSource.getRepository(AuditEntryEntity).create({
        id: row.id,
        tenantId: row.tenant_id,
        at: row.at,
        actorKind: row.actor_kind,
        actorId: row.actor_id,
        actorLabel: row.actor_label,
        action: row.action,
        details: row.details,
      }),
    );
  }
}
