import { RetryLaterError } from '@app/common/queues/job-errors';
import { OnStripeEvent, StripeEventContext, StripeEventOutcome } from '@app/common/stripe/on-stripe-event.decorator';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { EntityManager } from 'typeorm';
import { PaymentEntity } from './payment.entity';
import { PAYMENT_ID_METADATA_KEY, TENANT_ID_METADATA_KEY } from './payment-input';
import { PaymentObservation, PaymentUpdatePlan, observeIntent } from './payment-observation';
import { PaymentSettlementService } from './payment-settlement.service';
import { PaymentsRepository } from './payments.repository';
import { RefundSyncService } from './refund-sync.service';
import { StripeObjectReader } from './stripe-object.reader';

const PROCESSED: StripeEventOutcome = { result: 'processed' };
const UNKNOWN_OBJECT: StripeEventOutcome = { result: 'ignored', reason: 'unknown_object' };
const TENANT_DISCONNECTED: StripeEventOutcome = { result: 'ignored', reason: 'tenant_disconnected' };

/** The link from a Stripe object to a payment: its intent id and the metadata the service put on it. */
interface PaymentReference {
  paymentIntentId: string;
  metadata: Stripe.Metadata | null;
}

type LockedPayment = { payment: PaymentEntity } | { outcome: StripeEventOutcome };

/**
 * Applies PaymentIntent, charge and refund events to payments and refunds.
 * The Webhooks worker finds these methods by `@OnStripeEvent` and calls them
 * inside the event's tenant; a thrown error retries the event with backoff.
 * After a disconnect, events reach these handlers only when the tenant
 * endpoint's own secret verified them. They are then applied from the payload
 * to payments the service stores, and anything else is `tenant_disconnected`.
 */
@Injectable()
export class PaymentsStripeEventHandlers {
  private readonly logger = new Logger(PaymentsStripeEventHandlers.name);

  constructor(
    private readonly payments: PaymentsRepository,
    private readonly settlement: PaymentSettlementService,
    private readonly refundSync: RefundSyncService,
    private readonly reader: StripeObjectReader,
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
      const located = await this.lockPayment(manager, event, context, { paymentIntentId, metadata: charge.metadata });
      if ('outcome' in located) {
        return located.outcome;
      }

      const { payment } = located;
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

  /** Refund changes, including refunds made in the Stripe Dashboard; `charge.refund.updated` carries a refund too. */
  @OnStripeEvent('refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated')
  async onRefundChanged(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    return this.refundSync.applyRefundEvent(event, context);
  }

  @OnStripeEvent('charge.refunded')
  async onChargeRefunded(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    return this.refundSync.applyChargeRefunded(event, context);
  }

  /**
   * Applies a PaymentIntent event. When it cannot be ordered against the last
   * applied event (same `created` second, another status of the same rank),
   * the PaymentIntent is read from Stripe and its current status applied.
   * Without usable keys the stored status stays until the next event.
   */
  private async applyPaymentIntentEvent(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    const intent = event.data.object as Stripe.PaymentIntent;
    const reference = { paymentIntentId: intent.id, metadata: intent.metadata };

    const first = await this.applyObservation(event, context, reference, observeIntent(intent, event.created));
    if ('outcome' in first) {
      return first.outcome;
    }
    if (first.plan.skippedBecause !== 'same_second' || context.connection === null) {
      return PROCESSED;
    }

    const fresh = await this.reader.retrievePaymentIntent(context.tenantId, intent.id);
    if (!fresh) {
      this.logger.warn({ tenantId: context.tenantId, stripeEventId: event.id, paymentIntentId: intent.id }, 'Could not re-read a PaymentIntent; its stored status stays');

      return PROCESSED;
    }

    await this.applyObservation(event, context, reference, observeIntent(fresh, event.created, true));

    return PROCESSED;
  }

  private async applyObservation(
    event: Stripe.Event,
    context: StripeEventContext,
    reference: PaymentReference,
    observation: PaymentObservation,
  ): Promise<{ plan: PaymentUpdatePlan } | { outcome: StripeEventOutcome }> {
    return this.payments.transaction(async (manager) => {
      const located = await this.lockPayment(manager, event, context, reference);
      if ('outcome' in located) {
        return located;
      }

      return { plan: await this.settlement.apply(manager, located.payment, observation) };
    });
  }

  /**
   * Finds and locks the payment an event is about: by the stored intent id,
   * else by the payment id in the metadata when the webhook beat Stripe's API
   * response. Throws RetryLaterError when the metadata names a payment of this
   * tenant that is not stored yet.
   */
  private async lockPayment(manager: EntityManager, event: Stripe.Event, context: StripeEventContext, reference: PaymentReference): Promise<LockedPayment> {
    const { tenantId } = context;
    const byIntent = await this.payments.lockByPaymentIntentId(manager, tenantId, reference.paymentIntentId);
    if (byIntent) {
      return { payment: byIntent };
    }

    const paymentId = reference.metadata?.[PAYMENT_ID_METADATA_KEY];
    const metadataTenantId = reference.metadata?.[TENANT_ID_METADATA_KEY];
    const logContext = { tenantId, stripeEventId: event.id, type: event.type, paymentIntentId: reference.paymentIntentId, paymentId };
    if (!paymentId || metadataTenantId !== tenantId) {
      this.logger.debug(logContext, 'Stripe event about a PaymentIntent the service did not create');

      return { outcome: context.connection === null ? TENANT_DISCONNECTED : UNKNOWN_OBJECT };
    }

    const byMetadata = await this.payments.lockById(manager, tenantId, paymentId);
    if (!byMetadata) {
      if (context.connection === null) {
        return { outcome: TENANT_DISCONNECTED };
      }
      throw new RetryLaterError(
        `Payment ${paymentId} named by PaymentIntent ${reference.paymentIntentId} is not stored yet; retrying ${event.type} later`,
      );
    }
    if (byMetadata.stripePaymentIntentId && byMetadata.stripePaymentIntentId !== reference.paymentIntentId) {
      this.logger.warn(
        { ...logContext, storedPaymentIntentId: byMetadata.stripePaymentIntentId },
        'Stripe event names a payment that belongs to another PaymentIntent; ignored',
      );

      return { outcome: UNKNOWN_OBJECT };
    }

    return { payment: byMetadata };
  }
}
