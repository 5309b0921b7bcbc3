import { RetryLaterError } from '@app/common/queues/job-errors';
import { OnStripeEvent, StripeEventContext, StripeEventOutcome } from '@app/common/stripe/on-stripe-event.decorator';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { EntityManager } from 'typeorm';
import { PaymentEntity } from './payment.entity';
import { PAYMENT_ID_METADATA_KEY, TENANT_ID_METADATA_KEY } from './payment-input';
import { observeIntent } from './payment-observation';
import { PaymentSettlementService } from './payment-settlement.service';
import { PaymentsRepository } from './payments.repository';

const PROCESSED: StripeEventOutcome = { result: 'processed' };
const UNKNOWN_OBJECT: StripeEventOutcome = { result: 'ignored', reason: 'unknown_object' };

/** The link from a Stripe object to a payment: its intent id and the metadata the service put on it. */
interface PaymentReference {
  paymentIntentId: string;
  metadata: Stripe.Metadata | null;
}

/**
 * Applies PaymentIntent and charge events to payments. The Webhooks worker
 * finds these methods by `@OnStripeEvent` and calls them inside the event's
 * tenant; a thrown error retries the event with backoff.
 */
@Injectable()
export class PaymentsStripeEventHandlers {
  private readonly logger = new Logger(PaymentsStripeEventHandlers.name);

  constructor(
    private readonly payments: PaymentsRepository,
    private readonly settlement: PaymentSettlementService,
  ) {}

  @OnStripeEvent('payment_intent.succeeded')
  async onPaymentIntentSucceeded(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    return this.applyPaymentIntentEvent(event, context);
  }

  /** A canceled intent will never be paid, so it fails the payment like a declined attempt. */
  @OnStripeEvent('payment_intent.payment_failed', 'payment_intent.canceled')
  async onPaymentIntentFailed(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    return this.applyPaymentIntentEvent(event, context);
  }

  @OnStripeEvent('payment_intent.requires_action', 'payment_intent.processing')
  async onPaymentIntentPending(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    return this.applyPaymentIntentEvent(event, context);
  }

  /** Stores the charge's receipt URL, which the PaymentIntent events do not contain. */
  @OnStripeEvent('charge.succeeded')
  async onChargeSucceeded(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    const charge = event.data.object as Stripe.Charge;
    const paymentIntentId = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
    if (!paymentIntentId) {
      return UNKNOWN_OBJECT;
    }

    return this.payments.transaction(async (manager) => {
      const payment = await this.lockPayment(manager, event, context, { paymentIntentId, metadata: charge.metadata });
      if (!payment) {
        return UNKNOWN_OBJECT;
      }

      const changes: Partial<PaymentEntity> = {};
      if (!payment.stripePaymentIntentId) {
        changes.stripePaymentIntentId = paymentIntentId;
      }
      if (payment.stripeChargeId !== charge.id) {
        changes.stripeChargeId = charge.id;
      }
      if (charge.receipt_url && payment.receiptUrl !== charge.receipt_url) {
        changes.receiptUrl = charge.receipt_url;
      }
      if (Object.keys(changes).length > 0) {
        await this.payments.update(manager, payment, changes);
      }

      return PROCESSED;
    });
  }

  private async applyPaymentIntentEvent(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    const intent = event.data.object as Stripe.PaymentIntent;

    return this.payments.transaction(async (manager) => {
      const payment = await this.lockPayment(manager, event, context, { paymentIntentId: intent.id, metadata: intent.metadata });
      if (!payment) {
        return UNKNOWN_OBJECT;
      }

      await this.settlement.apply(manager, payment, observeIntent(intent, event.created));

      return PROCESSED;
    });
  }

  /**
   * Finds and locks the payment an event is about: by the stored intent id,
   * else by the payment id in the metadata when the webhook beat Stripe's API
   * response. Null when the object is not the service's. Throws RetryLaterError
   * when the metadata names a payment of this tenant that is not stored yet.
   */
  private async lockPayment(
    manager: EntityManager,
    event: Stripe.Event,
    context: StripeEventContext,
    reference: PaymentReference,
  ): Promise<PaymentEntity | null> {
    const { tenantId } = context;
    const byIntent = await this.payments.lockByPaymentIntentId(manager, tenantId, reference.paymentIntentId);
    if (byIntent) {
      return byIntent;
    }

    const paymentId = reference.metadata?.[PAYMENT_ID_METADATA_KEY];
    const metadataTenantId = reference.metadata?.[TENANT_ID_METADATA_KEY];
    const logContext = { tenantId, stripeEventId: event.id, type: event.type, paymentIntentId: reference.paymentIntentId, paymentId };
    if (!paymentId || metadataTenantId !== tenantId) {
      this.logger.debug(logContext, 'Stripe event about a PaymentIntent the service did not create');

      return null;
    }

    const byMetadata = await this.payments.lockById(manager, tenantId, paymentId);
    if (!byMetadata) {
      throw new RetryLaterError(
        `Payment ${paymentId} named by PaymentIntent ${reference.paymentIntentId} is not stored yet; retrying ${event.type} later`,
      );
    }
    if (byMetadata.stripePaymentIntentId && byMetadata.stripePaymentIntentId !== reference.paymentIntentId) {
      this.logger.warn(
        { ...logContext, storedPaymentIntentId: byMetadata.stripePaymentIntentId },
        'Stripe event names a payment that belongs to another PaymentIntent; ignored',
      );

      return null;
    }

    return byMetadata;
  }
}
