import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { PaymentRefundedEvent } from '@app/contracts/payments.contracts';
import { TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PaymentEntity } from './payment.entity';
import { derivePaymentStatus, intentStatusOf } from './payment-status';
import { PaymentsRepository } from './payments.repository';
import { RefundEntity } from './refund.entity';
import { RefundObservation, RefundUpdatePlan, planRefundUpdate, succeededRefundTotal } from './refund-status';
import { RefundsRepository } from './refunds.repository';

/** The audit actor of refunds the service learns about from Stripe rather than from a request. */
const REFUND_FROM_STRIPE_ACTOR = { kind: 'system' as const, id: null, label: 'Stripe (refund made outside the service)' };

export interface AppliedRefund {
  refund: RefundEntity;
  /** Null when the refund was new to the service and stored as Stripe reported it. */
  plan: RefundUpdatePlan | null;
}

/**
 * Applies what Stripe reports about refunds to the stored refunds and keeps
 * the payment's `amountRefunded` and status equal to the sum of its succeeded
 * refunds. Every method runs inside the caller's transaction, with the
 * payment locked (`PaymentsRepository.lockBy…`), so all changes to one
 * payment's refunds take turns.
 */
@Injectable()
export class RefundSettlementService {
  private readonly logger = new Logger(RefundSettlementService.name);

  constructor(
    private readonly payments: PaymentsRepository,
    private readonly refunds: RefundsRepository,
    private readonly outbox: OutboxWriter,
    @Inject(TENANCY_FACADE) private readonly tenancy: TenancyFacade,
  ) {}

  /**
   * Applies an observation to `refund`, or stores a refund new to the service
   * (one made in the Stripe Dashboard) when `refund` is null, with an audit entry.
   */
  async apply(manager: EntityManager, payment: PaymentEntity, refund: RefundEntity | null, observation: RefundObservation): Promise<AppliedRefund> {
    if (!refund) {
      const stored = await this.insertFromStripe(manager, payment, observation);
      await this.settlePaymentTotals(manager, payment, stored);

      return { refund: stored, plan: null };
    }

    const plan = planRefundUpdate(refund, observation);
    const logContext = {
      tenantId: payment.tenantId,
      paymentId: payment.id,
      refundId: refund.id,
      stripeRefundId: observation.stripeRefundId,
      from: refund.status,
      observed: observation.status,
      eventCreated: observation.eventCreated,
    };
    if (plan.skippedBecause !== null) {
      this.logger.debug({ ...logContext, reason: plan.skippedBecause }, 'Refund status kept: the observation is not newer');
    }
    if (Object.keys(plan.changes).length > 0) {
      await this.refunds.update(manager, refund, plan.changes);
    }
    if (plan.statusApplied) {
      this.logger.log({ ...logContext, to: refund.status }, `Refund ${refund.status}`);
      await this.settlePaymentTotals(manager, payment, refund);
    }

    return { refund, plan };
  }

  /**
   * Fails a refund Stripe never took (it rejected the request, or it never
   * responded and the retries ran out), which gives its amount back to what is
   * left to refund. A refund Stripe has named meanwhile is left alone.
   */
  async failUnconfirmed(manager: EntityManager, payment: PaymentEntity, refund: RefundEntity, failureReason: string): Promise<boolean> {
    if (refund.stripeRefundId !== null || refund.status !== 'pending') {
      return false;
    }

    await this.refunds.update(manager, refund, { status: 'failed', failureReason });
    this.logger.warn({ tenantId: payment.tenantId, paymentId: payment.id, refundId: refund.id, failureReason }, 'Refund failed before Stripe took it');

    return true;
  }

  private async insertFromStripe(manager: EntityManager, payment: PaymentEntity, observation: RefundObservation): Promise<RefundEntity> {
    const refund = await this.refunds.insert(manager, {
      tenantId: payment.tenantId,
      paymentId: payment.id,
      amount: observation.amount,
      currency: payment.currency,
      status: observation.status,
      reason: observation.reason,
      origin: 'stripe',
      stripeRefundId: observation.stripeRefundId,
      failureReason: observation.failureReason,
      idempotencyKeyId: null,
      lastStripeEventCreated: observation.eventCreated,
    });
    await this.tenancy.recordAudit(
      {
        tenantId: payment.tenantId,
        action: 'payment.refunded',
        actor: REFUND_FROM_STRIPE_ACTOR,
        details: {
          paymentId: payment.id,
          refundId: refund.id,
          stripeRefundId: refund.stripeRefundId,
          amount: refund.amount,
          currency: refund.currency,
          reason: refund.reason,
          origin: 'stripe',
        },
      },
      manager,
    );
    this.logger.log(
      { tenantId: payment.tenantId, paymentId: payment.id, refundId: refund.id, stripeRefundId: refund.stripeRefundId, status: refund.status },
      'Refund made outside the service recorded',
    );

    return refund;
  }

  /**
   * Sets the payment's `amountRefunded` to the sum of its succeeded refunds
   * and derives its status, and announces the change through the outbox.
   */
  private async settlePaymentTotals(manager: EntityManager, payment: PaymentEntity, trigger: RefundEntity): Promise<void> {
    const refunds = await this.refunds.listForPayment(manager, payment.tenantId, payment.id);
    const amountRefunded = succeededRefundTotal(refunds);
    if (amountRefunded === payment.amountRefunded) {
      return;
    }
    if (amountRefunded > payment.amount) {
      // Stripe never refunds more than a charge, so this means two stored refunds stand for one Stripe refund.
      throw new Error(`Refunds of payment ${payment.id} add up to ${amountRefunded}, more than its amount ${payment.amount}`);
    }

    const status = derivePaymentStatus(intentStatusOf(payment.status), payment.amount, amountRefunded);
    await this.payments.update(manager, payment, { amountRefunded, status });
    Object.assign(payment, { amountRefunded, status });
    await this.outbox.append(
      manager,
      new PaymentRefundedEvent(payment.tenantId, payment.id, {
        paymentId: payment.id,
        refundId: trigger.id,
        amount: trigger.amount,
        amountRefunded,
        currency: payment.currency,
        refundStatus: announcedRefundStatus(trigger),
        stripeRefundId: trigger.stripeRefundId,
        paymentStatus: status,
        origin: trigger.origin,
      }),
    );
    this.logger.log(
      { tenantId: payment.tenantId, paymentId: payment.id, refundId: trigger.id, amountRefunded, status },
      'Payment refund total changed',
    );
  }
}

/**
 * Returns the refund status a PaymentRefunded event reports. The total only
 * changes when a refund enters succeeded or leaves it for failed or canceled.
 */
function announcedRefundStatus(refund: RefundEntity): 'succeeded' | 'failed' | 'canceled' {
  if (refund.status === 'succeeded' || refund.status === 'canceled') {
    return refund.status;
  }

  return 'failed';
}
