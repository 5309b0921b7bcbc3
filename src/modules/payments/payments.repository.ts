import { claimMessageExpression } from '@app/common/outbox/processed-message.entity';
import { queryPrepared } from '@app/common/database/prepared-query';
import { SqlParameters } from '@app/common/database/sql-parameters';
import { callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import type { ClaimedRow, NewKeyClaim } from '@app/common/idempotency/idempotency.service';
import { KeysetPosition, cursorTimestampSql, encodeCursor } from '@app/common/pagination/keyset-cursor';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { PaymentEntity } from './payment.entity';
import type { PaymentChanges } from './payment-observation';
import { PaymentRow, changesSetSql, paymentFromRow } from './payment-row';
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

/** A payment read without a lock, and the row's xmin when it was read. */
export interface VersionedPayment {
  payment: PaymentEntity;
  rowVersion: string;
}

/** A processing payment written in one statement, with the new Idempotency-Key claimed with it when there was one. */
export interface InsertedPayment {
  payment: PaymentEntity;
  /** The row's xmin: it changes with every update of the row, so `updateUnlessChangedSql` can tell whether anything wrote since. */
  rowVersion: string;
  claimed: ClaimedRow | null;
}

/** The name of the expression that returns the updated row in a statement of `updateUnlessChangedSql`. */
export const UPDATED_PAYMENT = 'updated_payment';

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

  /**
   * Inserts a processing payment in one statement, which commits on its own,
   * together with `claim` of a new Idempotency-Key when given. Returns null,
   * with nothing written, when the claim found the key's row already there.
   */
  async insertProcessingWithNewKey(payment: Omit<NewPayment, 'idempotencyKeyId'>, parameters: SqlParameters, claim?: NewKeyClaim): Promise<InsertedPayment | null> {
    const columns = `tenant_id, status, amount, currency, description, receipt_email, livemode, customer_id, metadata, idempotency_key_id`;
    const values = [
      parameters.add(payment.tenantId, 'uuid'),
      `'processing'`,
      parameters.add(payment.amount, 'bigint'),
      parameters.add(payment.currency, 'text'),
      parameters.add(payment.description, 'text'),
      parameters.add(payment.receiptEmail, 'text'),
      parameters.add(payment.livemode, 'boolean'),
      parameters.add(payment.customerId, 'uuid'),
      parameters.add(JSON.stringify(payment.metadata), 'jsonb'),
    ].join(', ');

    if (!claim) {
      const rows = await queryPrepared<PaymentRow & { row_version: string }>(
        this.dataSource,
        `INSERT INTO payments (${columns}) VALUES (${values}, NULL) RETURNING *, xmin::text AS row_version`,
        parameters.values,
      );

      return { payment: paymentFromRow(rows[0]), rowVersion: rows[0].row_version, claimed: null };
    }

    const rows = await queryPrepared<PaymentRow & { row_version: string; claimed_key_attempt: number }>(
      this.dataSource,
      `WITH claimed_key AS (${claim.sql}),
            inserted_payment AS (
              INSERT INTO payments (${columns}) SELECT ${values}, claimed_key.id FROM claimed_key RETURNING *, xmin::text AS row_version
            )
       SELECT inserted_payment.*, claimed_key.attempt AS claimed_key_attempt FROM inserted_payment, claimed_key`,
      parameters.values,
    );
    const [row] = rows;
    if (!row) {
      return null;
    }

    return {
      payment: paymentFromRow(row),
      rowVersion: row.row_version,
      claimed: { id: row.idempotency_key_id as string, attempt: row.claimed_key_attempt },
    };
  }

  /**
   * Writes the expression `updated_payment` (UPDATED_PAYMENT) of a statement
   * that applies `changes` to `expected` without a lock. It updates the row
   * only while its xmin is still `rowVersion`, that is while nothing updated
   * the row since `expected` was read. It returns the updated row with
   * `updated_at_iso`, its updated_at as Date.toISOString() writes it. A row
   * changed since is left as it is, and the expression returns nothing.
   */
  updateUnlessChangedSql(parameters: SqlParameters, expected: PaymentEntity, rowVersion: string, changes: PaymentChanges): string {
    const set = changesSetSql(parameters, changes);
    const tenantId = parameters.add(expected.tenantId, 'uuid');
    const id = parameters.add(expected.id, 'uuid');

    return `${UPDATED_PAYMENT} AS (
         UPDATE payments SET ${set}
          WHERE tenant_id = ${tenantId} AND id = ${id} AND xmin = ${parameters.add(rowVersion, 'xid')}
         RETURNING *, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at_iso
       )`;
  }

  /** Runs a statement composed with `updateUnlessChangedSql` as a prepared statement (queryPrepared) and returns its rows. */
  async queryUpdate<T>(sql: string, parameters: SqlParameters): Promise<(PaymentRow & { updated_at_iso: string } & T)[]> {
    return queryPrepared<PaymentRow & { updated_at_iso: string } & T>(this.dataSource, sql, parameters.values);
  }

  /** Payments of every tenant still processing without a PaymentIntent id, created before `olderThan`, oldest first. */
  async findUnanswered(olderThan: Date, limit: number): Promise<{ tenantId: string; paymentId: string }[]> {
    const rows = await callCrossTenantFunction<{ tenant_id: string; id: string }>(this.dataSource, 'app_find_unanswered_payments', [olderThan, limit]);

    return rows.map((row) => ({ tenantId: row.tenant_id, paymentId: row.id }));
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

  /** Reads the payment of a PaymentIntent without a lock, with its row version for `updateUnlessChangedSql`. */
  async findVersionedByPaymentIntentId(tenantId: string, paymentIntentId: string): Promise<VersionedPayment | null> {
    return this.findVersioned('stripe_payment_intent_id = $2', tenantId, paymentIntentId);
  }

  /** Reads a payment without a lock, with its row version for `updateUnlessChangedSql`. */
  async findVersionedById(tenantId: string, id: string): Promise<VersionedPayment | null> {
    return isUuid(id) ? this.findVersioned('id = $2', tenantId, id) : null;
  }

  private async findVersioned(condition: string, tenantId: string, value: string): Promise<VersionedPayment | null> {
    const rows = await queryPrepared<PaymentRow & { row_version: string }>(
      this.dataSource,
      `SELECT *, xmin::text AS row_version FROM payments WHERE tenant_id = $1 AND ${condition}`,
      [tenantId, value],
    );
    const [row] = rows;

    return row ? { payment: paymentFromRow(row), rowVersion: row.row_version } : null;
  }

  /** Applies `changes` in one statement unless the row changed since `rowVersion` was read; returns whether it wrote. */
  async updateUnlessChanged(expected: PaymentEntity, rowVersion: string, changes: PaymentChanges): Promise<boolean> {
    const parameters = new SqlParameters();
    const rows = await this.queryUpdate(`WITH ${this.updateUnlessChangedSql(parameters, expected, rowVersion, changes)} SELECT * FROM ${UPDATED_PAYMENT}`, parameters);

    return rows.length > 0;
  }

  async lockByPaymentIntentId(manager: EntityManager, tenantId: string, paymentIntentId: string): Promise<PaymentEntity | null> {
    return manager
      .getRepository(PaymentEntity)
      .findOne({ where: { tenantId, stripePaymentIntentId: paymentIntentId }, lock: { mode: 'pessimistic_write' } });
  }

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
      // A string is SQL. The array form takes property names and silently drops a column name.
      .returning('updated_at')
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
    const parameters = new SqlParameters();
    const claimExpression = claimMessageExpression(parameters, claim.consumer, claim.messageId, tenantId);
    const rows = await queryPrepared<{ claimed: number; linked: number }>(
      this.dataSource,
      `WITH ${claimExpression}, linked AS (
         UPDATE payments SET invoice_id = COALESCE(invoice_id, ${parameters.add(invoiceId, 'uuid')}), updated_at = now()
          WHERE tenant_id = ${parameters.add(tenantId, 'uuid')} AND id = ${parameters.add(paymentId, 'uuid')} AND EXISTS (SELECT 1 FROM message_claim)
          RETURNING id
       )
       SELECT (SELECT count(*) FROM message_claim)::int AS claimed, (SELECT count(*) FROM linked)::int AS linked`,
      parameters.values,
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
