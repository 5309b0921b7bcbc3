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

  /**
   * Writes an entry. An entry without a tenant goes through the function
   * app_record_platform_audit_entry, because no tenant's scope admits it, and
   * that function accepts only the actions of operators that concern no
   * single tenant.
   */
  async insert(entry: Omit<AuditEntryEntity, 'id' | 'at'>, manager?: EntityManager): Promise<void> {
    const target = manager ?? this.dataSource.manager;
    if (entry.tenantId !== null) {
      const repository = target.getRepository(AuditEntryEntity);
      await repository.save(repository.create(entry));

      return;
    }

    const [row]: { id: string | null }[] = await target.query('SELECT app_record_platform_audit_entry($1, $2, $3, $4, $5) AS id', [
      entry.actorKind,
      entry.actorId,
      entry.actorLabel,
      entry.action,
      JSON.stringify(entry.details),
    ]);
    if (row.id === null) {
      throw new Error(`app_record_platform_audit_entry does not accept the action "${entry.action}": add it to the function in a migration`);
    }
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
