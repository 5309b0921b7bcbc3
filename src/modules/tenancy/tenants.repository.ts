import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { Page, PageRequest, fetchPage } from './keyset-page';
import { TenantEntity } from './tenant.entity';
import { isUuid } from './tenant-validation';

export interface NewTenant {
  slug: string;
  name: string;
  timeZone: string;
}

/** Tenants are the one table of this context not scoped by a tenant: operators look across them. */
@Injectable()
export class TenantsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Null for a malformed id as for a missing one. */
  async findById(id: string, manager?: EntityManager): Promise<TenantEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return this.repository(manager).findOneBy({ id });
  }

  /** Loads the row and locks it FOR UPDATE until the caller's transaction ends. */
  async lockById(manager: EntityManager, id: string): Promise<TenantEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return this.repository(manager).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  findBySlug(slug: string): Promise<TenantEntity | null> {
    return this.repository().findOneBy({ slug });
  }

  async insert(manager: EntityManager, tenant: NewTenant): Promise<TenantEntity> {
    const repository = this.repository(manager);

    return repository.save(repository.create({ ...tenant, liveModeAllowed: false, status: 'active' }));
  }

  save(manager: EntityManager, tenant: TenantEntity): Promise<TenantEntity> {
    return this.repository(manager).save(tenant);
  }

  list(page: PageRequest): Promise<Page<TenantEntity>> {
    return fetchPage(this.repository().createQueryBuilder('tenant'), 'tenant', 'created_at', page);
  }

  private repository(manager?: EntityManager): Repository<TenantEntity> {
    return (manager ?? this.dataSource.manager).getRepository(TenantEntity);
  }
}
