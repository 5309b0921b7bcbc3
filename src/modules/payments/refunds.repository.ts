import { callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import { KeysetPosition, cursorTimestampSql, encodeCursor } from '@app/common/pagination/keyset-cursor';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { RefundEntity } from './refund.entity';
import type { RefundOrigin, RefundReason, RefundStatus } from './refund-status';
import { isUuid } from './payments.repository';

export interface NewRefund {
  tenantId: string;
  paymentId: string;
  amount: number;
  currency: string;
  status: RefundStatus;
  reason: RefundReason | null;
  origin: RefundOrigin;
  stripeRefundId: string | null;
  failureReason: string | null;
  idempotencyKeyId: string | null;
  lastStripeEventCreated: number | null;
}

export interface RefundPage {
  data: RefundEntity[];
  nextCursor: string | null;
}

/** A refund that was sent to Stripe without a response, found by the sweeper across tenants. */
export interface UnsentRefund {
  tenantId: string;
  refundId: string;
}

/**
 * Refunds of one tenant. Every method takes the tenant id, so another
 * tenant's refund is never found. Changes happen while the caller holds the
 * lock of the refund's payment, which serialises everything about one payment.
 */
@Injectable()
export class RefundsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(manager: EntityManager, refund: NewRefund): Promise<RefundEntity> {
    const repository = manager.getRepository(RefundEntity);

    return repository.save(repository.create(refund));
  }

  async findById(tenantId: string, id: string, manager: EntityManager = this.dataSource.manager): Promise<RefundEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return manager.getRepository(RefundEntity).findOne({ where: { tenantId, id } });
  }

  async findByStripeId(manager: EntityManager, tenantId: string, stripeRefundId: string): Promise<RefundEntity | null> {
    return manager.getRepository(RefundEntity).findOne({ where: { tenantId, stripeRefundId } });
  }

  async findByIdempotencyKeyId(tenantId: string, idempotencyKeyId: string): Promise<RefundEntity | null> {
    return this.dataSource.getRepository(RefundEntity).findOne({ where: { tenantId, idempotencyKeyId } });
  }

  /** Every refund of a payment, oldest first. */
  async listForPayment(manager: EntityManager, tenantId: string, paymentId: string): Promise<RefundEntity[]> {
    return manager.getRepository(RefundEntity).find({ where: { tenantId, paymentId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  async update(manager: EntityManager, refund: RefundEntity, changes: Partial<RefundEntity>): Promise<void> {
    await manager.getRepository(RefundEntity).update({ tenantId: refund.tenantId, id: refund.id }, changes as never);
    Object.assign(refund, changes);
  }

  /** Unties a refund from its Idempotency-Key record, so a retry with that key can ask for a new refund. */
  async detachIdempotencyKey(tenantId: string, id: string): Promise<void> {
    await this.dataSource.getRepository(RefundEntity).update({ tenantId, id }, { idempotencyKeyId: null });
  }

  /** Reads a page of one payment's refunds, newest first, by the keyset (created_at, id). */
  async listPage(tenantId: string, paymentId: string, limit: number, after?: KeysetPosition): Promise<RefundPage> {
    const query = this.dataSource
      .getRepository(RefundEntity)
      .createQueryBuilder('refund')
      .addSelect(cursorTimestampSql('refund.created_at'), 'cursor_created_at')
      .where('refund.tenant_id = :tenantId AND refund.payment_id = :paymentId', { tenantId, paymentId })
      .orderBy('refund.created_at', 'DESC')
      .addOrderBy('refund.id', 'DESC')
      .limit(limit + 1);
    if (after) {
      query.andWhere('(refund.created_at, refund.id) < (CAST(:afterCreatedAt AS timestamptz), CAST(:afterId AS uuid))', {
        afterCreatedAt: after.createdAt,
        afterId: after.id,
      });
    }

    const { entities, raw } = await query.getRawAndEntities<{ refund_id: string; cursor_created_at: string }>();
    const hasMore = entities.length > limit;
    const data = entities.slice(0, limit);
    const last = data.at(-1);
    const lastRaw = last ? raw.find((row) => row.refund_id === last.id) : undefined;
    const nextCursor = hasMore && lastRaw ? encodeCursor({ createdAt: lastRaw.cursor_created_at, id: lastRaw.refund_id }) : null;

    return { data, nextCursor };
  }

  /**
   * Finds refunds still pending without a Stripe id that were created before
   * `olderThan`, across tenants, through the SECURITY DEFINER function that
   * is the sweeper's only cross-tenant read.
   */
  async findUnsent(olderThan: Date, limit: number): Promise<UnsentRefund[]> {
    const rows = await callCrossTenantFunction<{ tenant_id: string; id: string }>(this.dataSource, 'app_find_unsent_refunds', [olderThan, limit]);

    return rows.map((row) => ({ tenantId: row.tenant_id, refundId: row.id }));
  }
}
