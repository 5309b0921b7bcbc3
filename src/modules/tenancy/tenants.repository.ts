import { queryThrough } from '@app/common/database/prepared-query';
import { callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { KeysetRow } from '@app/common/pagination/keyset-cursor';
import { Page, PageRequest, fetchFunctionPage } from './keyset-page';
import { TenantEntity } from './tenant.entity';
import { isUuid } from './tenant-validation';

/** A row of the tenants table. */
interface TenantRow {
  id: string;
  slug: string;
  name: string;
  time_zone: string;
  live_mode_allowed: boolean;
  status: 'active';
  created_at: Date;
  updated_at: Date;
}

export interface NewTenant {
  id: string;
  slug: string;
  name: string;
  timeZone: string;
}

/** Tenants are the one table of this context not scoped by a tenant: operators look across them. */
@Injectable()
export class TenantsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Returns the tenant, or null for a malformed or missing id. Outside a
   * transaction the read is a prepared statement, because the worker reads the
   * tenant's time zone for every paid invoice and TypeORM's query building
   * cost more CPU than the read.
   */
  async findById(id: string, manager: EntityManager = this.dataSource.manager): Promise<TenantEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    const [row] = await queryThrough<TenantRow>(
      manager,
      'SELECT id, slug, name, time_zone, live_mode_allowed, status, created_at, updated_at FROM tenants WHERE id = $1',
      [id],
    );

    return row ? this.toEntity(row) : null;
  }

  /** Loads the row and locks it FOR UPDATE until the caller's transaction ends. */
  async lockById(manager: EntityManager, id: string): Promise<TenantEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return this.repository(manager).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** Returns the id of the tenant with this slug, or null, in any tenant's scope, through the function app_tenant_id_by_slug. */
  async findIdBySlug(slug: string): Promise<string | null> {
    const [row] = await callCrossTenantFunction<{ result: string | null }>(this.dataSource, 'app_tenant_id_by_slug', [slug]);

    return row?.result ?? null;
  }

  async insert(manager: EntityManager, tenant: NewTenant): Promise<TenantEntity> {
    const repository = this.repository(manager);

    return repository.save(repository.create({ ...tenant, liveModeAllowed: false, status: 'active' }));
  }

  save(manager: EntityManager, tenant: TenantEntity): Promise<TenantEntity> {
    return this.repository(manager).save(tenant);
  }

  /**
   * Lists every tenant, newest first, through the SECURITY DEFINER function
   * app_list_tenants, so an operator's list runs as the app role.
   */
  list(page: PageRequest): Promise<Page<TenantEntity>> {
    return fetchFunctionPage(this.dataSource, 'app_list_tenants', page, (row: TenantRow & KeysetRow) => this.toEntity(row));
  }

  private toEntity(row: TenantRow): TenantEntity {
    return this.repository().create({
      id: row.id,
      slug: row.slug,
      name: row.name,
      timeZone: row.time_zone,
      liveModeAllowed: row.live_mode_allowed,
      status: row.status,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    });
  }

  private repository(manager?: EntityManager): Repository<TenantEntity> {
    return (manager ?? this.dataSource.manager).getRepository(TenantEntity);
  }
}
