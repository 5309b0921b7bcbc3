import { KeysetPosition, cursorTimestampSql, encodeCursor } from '@app/common/pagination/keyset-cursor';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { CustomerEntity } from './customer.entity';
import { isUuid } from './uuid';

export type NewCustomer = Omit<CustomerEntity, 'createdAt' | 'updatedAt'>;

export interface CustomerPage {
  data: CustomerEntity[];
  nextCursor: string | null;
}

/** Customers of one tenant. Every method takes the tenant id, so another tenant's id finds nothing. */
@Injectable()
export class CustomersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(customer: NewCustomer): Promise<CustomerEntity> {
    const repository = this.dataSource.getRepository(CustomerEntity);

    return repository.save(repository.create(customer));
  }

  /** Null for another tenant's id, a missing one and a malformed one alike. */
  async findById(tenantId: string, id: string, manager: EntityManager = this.dataSource.manager): Promise<CustomerEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return manager.getRepository(CustomerEntity).findOne({ where: { tenantId, id } });
  }

  /** Reads a page of customers, newest first, by the keyset (created_at, id). */
  async list(tenantId: string, limit: number, after?: KeysetPosition): Promise<CustomerPage> {
    const query = this.dataSource
      .getRepository(CustomerEntity)
      .createQueryBuilder('customer')
      .addSelect(cursorTimestampSql('customer.created_at'), 'cursor_created_at')
      .where('customer.tenant_id = :tenantId', { tenantId })
      .orderBy('customer.created_at', 'DESC')
      .addOrderBy('customer.id', 'DESC')
      .limit(limit + 1);
    if (after) {
      query.andWhere('(customer.created_at, customer.id) < (CAST(:afterCreatedAt AS timestamptz), CAST(:afterId AS uuid))', {
        afterCreatedAt: after.createdAt,
        afterId: after.id,
      });
    }

    const { entities, raw } = await query.getRawAndEntities<{ customer_id: string; cursor_created_at: string }>();
    const hasMore = entities.length > limit;
    const data = entities.slice(0, limit);
    const last = data.at(-1);
    const lastRaw = last ? raw.find((row) => row.customer_id === last.id) : undefined;
    const nextCursor = hasMore && lastRaw ? encodeCursor({ createdAt: lastRaw.cursor_created_at, id: lastRaw.customer_id }) : null;

    return { data, nextCursor };
  }
}
