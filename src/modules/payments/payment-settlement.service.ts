import { SqlParameters } from '@app/common/database/sql-parameters';
import { DomainEvent } from '@app/common/events/domain-event';
import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { Clock } from '@app/common/time/clock';
import { PaymentFailedEvent, PaymentSucceededEvent } from '@app/contracts/payments.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PaymentEntity } from './payment.entity';
import { PaymentObservation, PaymentUpdatePlan, planPaymentUpdate } from './payment-observation';
import { paymentFromRow } from './payment-row';
import { PaymentsRepository, UPDATED_PAYMENT } from './payments.repository';

/** The name of the caller's expression in a statement of `applyUnlocked`. */
export const WRITTEN_WITH_PAYMENT = 'written_with_payment';

/**
 * Writes the body of an expression that commits with an unlocked update, for
 * the payment as it will be stored, or returns undefined to add none. Its
 * updated_at is known only to the statement, as the SQL expression
 * `updatedAtIsoSql` (Date.toISOString() form).
 */
export type WrittenWithPayment = (parameters: SqlParameters, planned: PaymentEntity, updatedAtIsoSql: string) => string | undefined;

/** The outcome of `applyUnlocked` that wrote: the stored payment, and whether the caller's expression returned a row. */
export interface UnlockedSettlement {
  payment: PaymentEntity;
  writtenWith: boolean;
}

/**
 * Applies what Stripe reports about a payment (API responses, card errors,
 * webhook events) to the stored payment, and announces a new outcome through
 * the outbox in the same transaction as the status change.
 */
@Injectable()
export class PaymentSettlementService {
  private readonly logger = new Logger(PaymentSettlementService.name);

  constructor(
    private readonly payments: PaymentsRepository,
    private readonly outbox: OutboxWriter,
    private readonly clock: Clock,
  ) {}

  /**
   * Updates a payment the caller has locked (`PaymentsRepository.lockBy…`)
   * inside the caller's transaction. The success and failure events are
   * written only on the status change itself, so each is written at most once.
   */
  async apply(manager: EntityManager, payment: PaymentEntity, observation: PaymentObservation): Promise<PaymentUpdatePlan> {
    const plan = planPaymentUpdate(payment, observation);
    const logContext = {
      tenantId: payment.tenantId,
      paymentId: payment.id,
      paymentIntentId: observation.paymentIntentId,
      from: payment.status,
      observed: observation.status,
      eventCreated: observation.eventCreated,
    };
    if (plan.skippedBecause !== null) {
      this.logger.debug({ ...logContext, reason: plan.skippedBecause }, 'Payment status kept: the observation is not newer');
    }
    if (Object.keys(plan.changes).length === 0) {
      return plan;
    }

    await this.payments.update(manager, payment, plan.changes);
    Object.assign(payment, plan.changes);

    const announcement = this.announcement(plan, payment, observation);
    if (announcement) {
      await this.outbox.append(manager, announcement);
    }
    if (plan.statusApplied) {
      this.logger.log({ ...logContext, to: payment.status }, `Payment ${payment.status}`);
    }

    return plan;
  }

  /**
   * Applies an observation as `apply` does, in one statement that commits on
   * its own and takes no lock first. `expected` is the payment as this request
   * wrote it, with the row version the write returned. The statement writes
   * only while the row is still that version, so the plan made from `expected`
   * is the one `apply` would make under the lock. `writeWith` may add one
   * expression, such as the stored response, that commits with the update and
   * only when the update happens.
   *
   * Returns null, having written nothing, when the row changed meanwhile or
   * the plan changes nothing; the caller then applies under the row lock.
   */
  async applyUnlocked(
    expected: PaymentEntity,
    rowVersion: string,
    observation: PaymentObservation,
    writeWith?: WrittenWithPayment,
  ): Promise<UnlockedSettlement | null> {
    const plan = planPaymentUpdate(expected, observation);
    if (Object.keys(plan.changes).length === 0) {
      return null;
    }

    const planned = Object.assign(new PaymentEntity(), expected, plan.changes);
    const parameters = new SqlParameters();
    const expressions = [this.payments.updateUnlessChangedSql(parameters, expected, rowVersion, plan.changes)];
    const announcement = this.announcement(plan, planned, observation);
    if (announcement) {
      expressions.push(this.outbox.appendExpressions(parameters, [announcement], { onlyIfRowsIn: UPDATED_PAYMENT }));
    }
    const writtenWithSql = writeWith?.(parameters, planned, `(SELECT updated_at_iso FROM ${UPDATED_PAYMENT})`);
    if (writtenWithSql !== undefined) {
      expressions.push(`${WRITTEN_WITH_PAYMENT} AS (${writtenWithSql})`);
    }
    const writtenWith = writtenWithSql === undefined ? 'false' : `EXISTS (SELECT 1 FROM ${WRITTEN_WITH_PAYMENT})`;

    const [row] = await this.payments.queryUpdate<{ written_with: boolean }>(
      `WITH ${expressions.join(',\n')}
       SELECT ${UPDATED_PAYMENT}.*, ${writtenWith} AS written_with FROM ${UPDATED_PAYMENT}`,
      parameters,
    );
    if (!row) {
      return null;
    }

    const payment = paymentFromRow(row);
    // The string the statement wrote into the caller's expression, so a response built from it matches.
    payment.updatedAt = new Date(row.updated_at_iso);
    if (plan.statusApplied) {
      this.logger.log(
        { tenantId: payment.tenantId, paymentId: payment.id, paymentIntentId: observation.paymentIntentId, from: expected.status, to: payment.status },
        `Payment ${payment.status}`,
      );
    }

    return { payment, writtenWith: row.written_with };
  }

  /** Returns the event that announces the plan's status change, if it makes one. */
  private announcement(plan: PaymentUpdatePlan, payment: PaymentEntity, observation: PaymentObservation): DomainEvent | null {
    if (plan.announce === 'succeeded') {
      return this.succeededEvent(payment, observation);
    }
    if (plan.announce === 'failed') {
      return new PaymentFailedEvent(payment.tenantId, payment.id, {
        paymentId: payment.id,
        amount: payment.amount,
        currency: payment.currency,
        failureCode: payment.failureCode,
        declineCode: payment.declineCode,
      });
    }

    return null;
  }

  private succeededEvent(payment: PaymentEntity, observation: PaymentObservation): PaymentSucceededEvent {
    if (!payment.stripePaymentIntentId) {
      throw new Error(`Payment ${payment.id} succeeded without a PaymentIntent id`);
    }

    const succeededAt = observation.succeededAt !== null ? new Date(observation.succeededAt * 1000) : this.clock.now();

    return new PaymentSucceededEvent(payment.tenantId, payment.id, {
      paymentId: payment.id,
      amount: payment.amount,
      currency: payment.currency,
      livemode: payment.livemode,
      description: payment.description,
      receiptEmail: payment.receiptEmail,
      customerId: payment.customerId,
      stripePaymentIntentId: payment.stripePaymentIntentId,
      succeededAt: succeededAt.toISOString(),
    });
  }
}
