import { RetryLaterError } from '@app/common/queues/job-errors';
import { OnStripeEvent, StripeEventContext, StripeEventOutcome } from '@app/common/stripe/on-stripe-event.decorator';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { EntityManager } from 'typeorm';
import { PaymentEntity } from './payment.entity';
import { PAYMENT_ID_METADATA_KEY, TENANT_ID_METADATA_KEY } from './payment-input';
import { PaymentChanges, PaymentObservation, PaymentUpdatePlan, observeIntent, planPaymentUpdate } from './payment-observation';
import { PaymentSettlementService } from './payment-settlement.service';
import { PaymentsRepository, VersionedPayment } from './payments.repository';
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

/** The payment an event is about as a finder read it, or the event's outcome when there is none to apply it to. */
type Located<T> = { found: T } | { outcome: StripeEventOutcome };

/** Reads a payment by its intent id or its own id, with a row lock or without one. */
interface PaymentFinder<T> {
  byIntent(tenantId: string, paymentIntentId: string): Promise<T | null>;
  byId(tenantId: string, id: string): Promise<T | null>;
  paymentOf(found: T): PaymentEntity;
}

/** Returns the columns a `charge.succeeded` event sets that the payment does not have yet. */
function chargeChanges(payment: PaymentEntity, charge: Stripe.Charge, paymentIntentId: string): PaymentChanges {
  const changes: PaymentChanges = {};
  if (!payment.stripePaymentIntentId) {
    changes.stripePaymentIntentId = paymentIntentId;
  }
  if (payment.stripeChargeId !== charge.id) {
    changes.stripeChargeId = charge.id;
  }
  if (charge.receipt_url && payment.receiptUrl !== charge.receipt_url) {
    changes.receiptUrl = charge.receipt_url;
  }

  return changes;
}

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

    const reference = { paymentIntentId, metadata: charge.metadata };

    // Read without a lock first, because another writer of the same payment at that moment is rare.
    const read = await this.locatePayment(this.unlockedFinder, event, context, reference);
    if ('outcome' in read) {
      return read.outcome;
    }
    const changes = chargeChanges(read.found.payment, charge, paymentIntentId);
    if (Object.keys(changes).length === 0) {
      return PROCESSED;
    }
    if (await this.payments.updateUnlessChanged(read.found.payment, read.found.rowVersion, changes)) {
      return PROCESSED;
    }

    return this.payments.transaction(async (manager) => {
      const located = await this.locatePayment(this.lockingFinder(manager), event, context, reference);
      if ('outcome' in located) {
        return located.outcome;
      }

      const lockedChanges = chargeChanges(located.found, charge, paymentIntentId);
      if (Object.keys(lockedChanges).length > 0) {
        await this.payments.update(manager, located.found, lockedChanges);
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
    // One statement applies the plan made from an unlocked read, unless the row changed since.
    // A plan that changes nothing, or a changed row, is made again under the row lock.
    const read = await this.locatePayment(this.unlockedFinder, event, context, reference);
    if ('outcome' in read) {
      return read;
    }
    const plan = planPaymentUpdate(read.found.payment, observation);
    if (Object.keys(plan.changes).length > 0 && (await this.settlement.applyUnlocked(read.found.payment, read.found.rowVersion, observation))) {
      return { plan };
    }

    return this.payments.transaction(async (manager) => {
      const located = await this.locatePayment(this.lockingFinder(manager), event, context, reference);
      if ('outcome' in located) {
        return located;
      }

      return { plan: await this.settlement.apply(manager, located.found, observation) };
    });
  }

  private readonly unlockedFinder: PaymentFinder<VersionedPayment> = {
    byIntent: (tenantId, paymentIntentId) => this.payments.findVersionedByPaymentIntentId(tenantId, paymentIntentId),
    byId: (tenantId, id) => this.payments.findVersionedById(tenantId, id),
    paymentOf: (found) => found.payment,
  };

  private lockingFinder(manager: EntityManager): PaymentFinder<PaymentEntity> {
    return {
      byIntent: (tenantId, paymentIntentId) => this.payments.lockByPaymentIntentId(manager, tenantId, paymentIntentId),
      byId: (tenantId, id) => this.payments.lockById(manager, tenantId, id),
      paymentOf: (found) => found,
    };
  }

  /**
   * Finds the payment an event is about, with `finder`'s reads (locking or not):
   * by the stored intent id, else by the payment id in the metadata when the
   * webhook beat Stripe's API response. Throws RetryLaterError when the
   * metadata names a payment of this tenant that is not stored yet.
   */
  private async locatePayment<T>(finder: PaymentFinder<T>, event: Stripe.Event, context: StripeEventContext, reference: PaymentReference): Promise<Located<T>> {
    const { tenantId } = context;
    const byIntent = await finder.byIntent(tenantId, reference.paymentIntentId);
    if (byIntent) {
      return { found: byIntent };
    }

    const paymentId = reference.metadata?.[PAYMENT_ID_METADATA_KEY];
    const metadataTenantId = reference.metadata?.[TENANT_ID_METADATA_KEY];
    const logContext = { tenantId, stripeEventId: event.id, type: event.type, paymentIntentId: reference.paymentIntentId, paymentId };
    if (!paymentId || metadataTenantId !== tenantId) {
      this.logger.debug(logContext, 'Stripe event about a PaymentIntent the service did not create');

      return { outcome: context.connection === null ? TENANT_DISCONNECTED : UNKNOWN_OBJECT };
    }

    const byMetadata = await finder.byId(tenantId, paymentId);
    if (!byMetadata) {
      if (context.connection === null) {
        return { outcome: TENANT_DISCONNECTED };
      }
      throw new RetryLaterError(
        `Payment ${paymentId} named by PaymentIntent ${reference.paymentIntentId} is not stored yet; retrying ${event.type} later`,
      );
    }
    const stored = finder.paymentOf(byMetadata);
    if (stored.stripePaymentIntentId && stored.stripePaymentIntentId !== reference.paymentIntentId) {
      this.logger.warn(
        { ...logContext, storedPaymentIntentId: stored.stripePaymentIntentId },
        'Stripe event names a payment that belongs to another PaymentIntent; ignored',
      );

      return { outcome: UNKNOWN_OBJECT };
    }

    return { found: byMetadata };
  }
}
