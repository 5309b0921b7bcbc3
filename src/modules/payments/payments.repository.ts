import { KeysetPosition, cursorTimestampSql, encodeCursor } from '@app/common/pagination/keyset-cursor';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { PaymentEntity } from './payment.entity';
import type { PaymentStatus } from './payment-status';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

export interface NewPayment {
  tenantId: string;
  amount: number;
  currency: string;
  description: string | null;
  receiptEmail: string | null;
  livemode: boolean;
  customerId: string | null;
  metadata: Record<string, string>;
  idempotencyKeyId: string | null;
}

export interface PaymentListFilter {
  status?: PaymentStatus;
  limit: number;
  after?: KeysetPosition;
}

export interface PaymentPage {
  data: PaymentEntity[];
  nextCursor: string | null;
}

/**
 * Payments of one tenant. Every method takes the tenant id, so a query can
 * never run across tenants and another tenant's id finds nothing.
 */
@Injectable()
export class PaymentsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async insertProcessing(payment: NewPayment, manager: EntityManager = this.manager): Promise<PaymentEntity> {
    const repository = manager.getRepository(PaymentEntity);
    const entity = repository.create({
      ...payment,
      status: 'processing',
      amountRefunded: 0,
      receiptUrl: null,
      stripePaymentIntentId: null,
      stripeChargeId: null,
      failureCode: null,
      declineCode: null,
      clientSecret: null,
      nextAction: null,
      invoiceId: null,
      lastStripeEventCreated: null,
    });

    return repository.save(entity);
  }

  /** Null for another tenant's id, a missing one and a malformed one alike. */
  async findById(tenantId: string, id: string, manager: EntityManager = this.manager): Promise<PaymentEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return manager.getRepository(PaymentEntity).findOne({ where: { tenantId, id } });
  }

  /** Locks the payment row (SELECT … FOR UPDATE) until the caller's transaction ends. */
  async lockById(manager: EntityManager, tenantId: string, id: string): Promise<PaymentEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return manager.getRepository(PaymentEntity).findOne({ where: { tenantId, id }, lock: { mode: 'pessimistic_write' } });
  }

  async findByIdempotencyKeyId(tenantId: string, idempotencyKeyId: string, manager: EntityManager = this.manager): Promise<PaymentEntity | null> {
    return manager.getRepository(PaymentEntity).findOne({ where: { tenantId, idempotencyKeyId } });
  }

  async lockByChargeId(manager: EntityManager, tenantId: string, chargeId: string): Promise<PaymentEntity | null> {
    return manager.getRepository(PaymentEntity).findOne({ where: { tenantId, stripeChargeId: chargeId }, lock: { mode: 'pessimistic_write' } });
  }

  async lockByPaymentIntentId(manager: EntityManager, tenantId: string, paymentIntentId: string): Promise<PaymentEntity | null> {
    return manager
      .getRepository(PaymentEntity)
      .findOne({ where: { tenantId, stripePaymentIntentId: paymentIntentId }, lock: { mode: 'pessimistic_write' } });
  }

  /** Writes the given columns of one payment; updated_at is set by TypeORM. */
  /**
   * Writes `changes` to the payment's row and sets `payment.updatedAt` to the
   * row's new value, read back with RETURNING. A caller that also applies the
   * changes to `payment` then has the stored row without reading it again.
   */
  async update(manager: EntityManager, payment: PaymentEntity, changes: Partial<PaymentEntity>): Promise<void> {
    const result = await manager
      .createQueryBuilder()
      .update(PaymentEntity)
      .set(changes as never)
      .where({ tenantId: payment.tenantId, id: payment.id })
      .returning(['updated_at'])
      .execute();
    const row = (result.raw as { updated_at: Date }[])[0];
    if (row) {
      payment.updatedAt = row.updated_at;
    }
  }

  /**
   * Deletes a payment that Stripe never saw: still processing and without a
   * PaymentIntent. Returns whether a row went.
   */
  async deleteUnsent(tenantId: string, id: string): Promise<boolean> {
    const result = await this.dataSource
      .createQueryBuilder()
      .delete()
      .from(PaymentEntity)
      .where('tenant_id = :tenantId AND id = :id AND status = :status AND stripe_payment_intent_id IS NULL', {
        tenantId,
        id,
        status: 'processing',
      })
      .execute();

    return (result.affected ?? 0) > 0;
  }

  /**
   * Claim a domain event for `consumer` (processed_messages) and set the
   * payment's invoice unless it already has one, in one statement, so the
   * claim and the link commit together without a transaction of their own.
   * `claimed` is false when the consumer already processed the message, and
   * `linked` is false when the payment does not exist.
   */
  async claimAndLinkInvoice(
    claim: { consumer: string; messageId: string },
    tenantId: string,
    paymentId: string,
    invoiceId: string,
  ): Promise<{ claimed: boolean; linked: boolean }> {
    const rows: { claimed: number; linked: number }[] = await this.dataSource.query(
      `WITH claim AS (
         INSERT INTO processed_messages (consumer, message_id, tenant_id) VALUES ($4, $5, $1)
         ON CONFLICT DO NOTHING RETURNING message_id
       ), linked AS (
         UPDATE payments SET invoice_id = COALESCE(invoice_id, $3), updated_at = now()
          WHERE tenant_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM claim)
          RETURNING id
       )
       SELECT (SELECT count(*) FROM claim)::int AS claimed, (SELECT count(*) FROM linked)::int AS linked`,
      [tenantId, paymentId, invoiceId, claim.consumer, claim.messageId],
    );

    return { claimed: rows[0].claimed === 1, linked: rows[0].linked === 1 };
  }

  /** Reads a page of payments, newest first, by the keyset (created_at, id). */
  async list(tenantId: string, filter: PaymentListFilter): Promise<PaymentPage> {
    const query = this.dataSource
      .getRepository(PaymentEntity)
      .createQueryBuilder('payment')
      .addSelect(cursorTimestampSql('payment.created_at'), 'cursor_created_at')
      .where('payment.tenant_id = :tenantId', { tenantId })
      .orderBy('payment.created_at', 'DESC')
      .addOrderBy('payment.id', 'DESC')
      .limit(filter.limit + 1);
    if (filter.status) {
      query.andWhere('payment.status = :status', { status: filter.status });
    }
    if (filter.after) {
      query.andWhere('(payment.created_at, payment.id) < (CAST(:afterCreatedAt AS timestamptz), CAST(:afterId AS uuid))', {
        afterCreatedAt: filter.after.createdAt,
        afterId: filter.after.id,
      });
    }

    const { entities, raw } = await query.getRawAndEntities<{ payment_id: string; cursor_created_at: string }>();
    const hasMore = entities.length > filter.limit;
    const data = entities.slice(0, filter.limit);
    const last = data.at(-1);
    const lastRaw = last ? raw.find((row) => row.payment_id === last.id) : undefined;
    const nextCursor = hasMore && lastRaw ? encodeCursor({ createdAt: lastRaw.cursor_created_at, id: lastRaw.payment_id }) : null;

    return { data, nextCursor };
  }
}
