import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { Clock } from '@app/common/time/clock';
import { PaymentFailedEvent, PaymentSucceededEvent } from '@app/contracts/payments.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PaymentEntity } from './payment.entity';
import { PaymentObservation, PaymentUpdatePlan, planPaymentUpdate } from './payment-observation';
import { PaymentsRepository } from './payments.repository';

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

    if (plan.announce === 'succeeded') {
      await this.outbox.append(manager, this.succeededEvent(payment, observation));
    } else if (plan.announce === 'failed') {
      await this.outbox.append(
        manager,
        new PaymentFailedEvent(payment.tenantId, payment.id, {
          paymentId: payment.id,
          amount: payment.amount,
          currency: payment.currency,
          failureCode: payment.failureCode,
          declineCode: payment.declineCode,
        }),
      );
    }
    if (plan.statusApplied) {
      this.logger.log({ ...logContext, to: payment.status }, `Payment ${payment.status}`);
    }

    return plan;
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
