import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditEntryEntity } from './audit-entry.entity';
import { Page, PageRequest, fetchPage } from './keyset-page';

@Injectable()
export class AuditLogRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(entry: Omit<AuditEntryEntity, 'id' | 'at'>, manager?: EntityManager): Promise<void> {
    const repository = (manager ?? this.dataSource.manager).getRepository(AuditEntryEntity);
    await repository.save(repository.create(entry));
  }

  /** Lists one tenant's entries when `tenantId` is a string, and every entry, platform-wide ones included, when it is undefined. */
  list(filter: { tenantId?: string }, page: PageRequest): Promise<Page<AuditEntryEntity>> {
    const query = this.dataSource.getRepository(AuditEntryEntity).createQueryBuilder('entry');
    if (filter.tenantId !== undefined) {
      query.where('entry.tenant_id = :tenantId', { tenantId: filter.tenantId });
    }

    return fetchPage(query, 'entry', 'at', page);
  }
}
