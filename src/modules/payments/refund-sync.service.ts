import { RetryLaterError } from '@app/common/queues/job-errors';
import { StripeEventContext, StripeEventOutcome } from '@app/common/stripe/on-stripe-event.decorator';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { EntityManager } from 'typeorm';
import { PaymentEntity } from './payment.entity';
import { PAYMENT_ID_METADATA_KEY, REFUND_ID_METADATA_KEY, TENANT_ID_METADATA_KEY } from './payment-input';
import { PaymentsRepository } from './payments.repository';
import { RefundEntity } from './refund.entity';
import { AppliedRefund, RefundSettlementService } from './refund-settlement.service';
import { RefundObservation, observeRefund } from './refund-status';
import { RefundsRepository } from './refunds.repository';
import { StripeObjectReader } from './stripe-object.reader';

const PROCESSED: StripeEventOutcome = { result: 'processed' };
const UNKNOWN_OBJECT: StripeEventOutcome = { result: 'ignored', reason: 'unknown_object' };
const TENANT_DISCONNECTED: StripeEventOutcome = { result: 'ignored', reason: 'tenant_disconnected' };

/** The ids by which a Stripe object refers to its payment. */
interface PaymentPointer {
  paymentIntentId: string | null;
  chargeId: string | null;
  /** Metadata that may carry the service's ids (a charge copies its PaymentIntent's). */
  metadata: Stripe.Metadata | null;
}

/**
 * Brings stored refunds in line with Stripe: from refund and charge events,
 * and from the refund list Stripe keeps for a PaymentIntent. A refund made in
 * the Stripe Dashboard belongs to a charge of ours, so it is ours, and is
 * stored on first sight. Events of the same second are settled by re-reading
 * the refund, when the tenant's keys work.
 */
@Injectable()
export class RefundSyncService {
  private readonly logger = new Logger(RefundSyncService.name);

  constructor(
    private readonly payments: PaymentsRepository,
    private readonly refunds: RefundsRepository,
    private readonly settlement: RefundSettlementService,
    private readonly reader: StripeObjectReader,
  ) {}

  /** Applies `refund.created`, `refund.updated`, `refund.failed` and `charge.refund.updated`. */
  async applyRefundEvent(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    const stripeRefund = event.data.object as Stripe.Refund;
    const pointer: PaymentPointer = { paymentIntentId: idOf(stripeRefund.payment_intent), chargeId: idOf(stripeRefund.charge), metadata: null };

    const first = await this.applyObservations(context, pointer, [{ stripeRefund, observation: observeRefund(stripeRefund, event.created) }], event);
    if ('outcome' in first) {
      return first.outcome;
    }

    const sameSecond = first.applied.some((applied) => applied.plan?.skippedBecause === 'same_second');
    if (sameSecond && context.connection !== null) {
      const fresh = await this.reader.retrieveRefund(context.tenantId, stripeRefund.id);
      if (fresh) {
        await this.applyObservations(context, pointer, [{ stripeRefund: fresh, observation: observeRefund(fresh, event.created, true) }], event);
      }
    }

    return PROCESSED;
  }

  /**
   * Applies `charge.refunded`. The charge carries only the refunded total, so
   * with working keys the PaymentIntent's refunds are read from Stripe and
   * applied. Without them (a disconnected tenant), the refunds in the payload
   * are applied, if it has any.
   */
  async applyChargeRefunded(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    const charge = event.data.object as Stripe.Charge;
    const paymentIntentId = idOf(charge.payment_intent);
    const pointer: PaymentPointer = { paymentIntentId, chargeId: charge.id, metadata: charge.metadata };

    const listed = context.connection !== null && paymentIntentId ? await this.reader.listRefunds(context.tenantId, paymentIntentId) : null;
    const stripeRefunds = listed ?? charge.refunds?.data ?? [];
    const observations = stripeRefunds.map((stripeRefund) => ({
      stripeRefund,
      observation: observeRefund(stripeRefund, listed ? null : event.created, listed !== null),
    }));

    const result = await this.applyObservations(context, pointer, observations, event);
    if ('outcome' in result) {
      return result.outcome;
    }

    this.logger.debug(
      { tenantId: context.tenantId, stripeEventId: event.id, chargeId: charge.id, refunds: observations.length, fromStripe: listed !== null },
      'Charge refunds applied',
    );

    return PROCESSED;
  }

  /**
   * Reads a payment's refunds from Stripe and applies them all, so that what
   * is left to refund is Stripe's figure again. Returns false when the
   * tenant's keys cannot be used.
   */
  async syncPayment(tenantId: string, payment: PaymentEntity): Promise<boolean> {
    if (!payment.stripePaymentIntentId) {
      return false;
    }

    const stripeRefunds = await this.reader.listRefunds(tenantId, payment.stripePaymentIntentId);
    if (!stripeRefunds) {
      return false;
    }

    await this.payments.transaction(async (manager) => {
      const locked = await this.payments.lockById(manager, tenantId, payment.id);
      if (!locked) {
        return;
      }

      for (const stripeRefund of stripeRefunds) {
        await this.applyToPayment(manager, locked, stripeRefund, observeRefund(stripeRefund, null, true));
      }
    });

    return true;
  }

  /** Applies what Stripe reported about one refund of a payment, inside the caller's transaction with the payment locked. */
  async applyToPayment(manager: EntityManager, payment: PaymentEntity, stripeRefund: Stripe.Refund, observation: RefundObservation): Promise<AppliedRefund> {
    const stored = await this.findStoredRefund(manager, payment, stripeRefund);

    return this.settlement.apply(manager, payment, stored, observation);
  }

  private async applyObservations(
    context: StripeEventContext,
    pointer: PaymentPointer,
    observations: { stripeRefund: Stripe.Refund; observation: RefundObservation }[],
    event: Stripe.Event,
  ): Promise<{ applied: AppliedRefund[] } | { outcome: StripeEventOutcome }> {
    const result = await this.payments.transaction(async (manager) => {
      const payment = await this.lockPayment(manager, context.tenantId, pointer);
      if (!payment) {
        return null;
      }

      if (pointer.chargeId && payment.stripeChargeId !== pointer.chargeId) {
        await this.payments.update(manager, payment, { stripeChargeId: pointer.chargeId });
        payment.stripeChargeId = pointer.chargeId;
      }

      const applied: AppliedRefund[] = [];
      for (const { stripeRefund, observation } of observations) {
        applied.push(await this.applyToPayment(manager, payment, stripeRefund, observation));
      }

      return { applied };
    });

    if (result) {
      return result;
    }

    const refundMetadata = observations[0]?.stripeRefund.metadata ?? null;

    return { outcome: await this.outcomeForUnknownPayment(context, pointer, refundMetadata, event) };
  }

  /**
   * Finds the stored refund a Stripe refund is: by its Stripe id, else by the
   * refund id the service put in its metadata when the API's response has not
   * been stored yet. Returns null for a refund made outside the service.
   */
  private async findStoredRefund(manager: EntityManager, payment: PaymentEntity, stripeRefund: Stripe.Refund): Promise<RefundEntity | null> {
    const byStripeId = await this.refunds.findByStripeId(manager, payment.tenantId, stripeRefund.id);
    if (byStripeId) {
      return byStripeId;
    }

    const refundId = stripeRefund.metadata?.[REFUND_ID_METADATA_KEY];
    if (!refundId) {
      return null;
    }

    const byMetadata = await this.refunds.findById(payment.tenantId, refundId, manager);
    if (!byMetadata || byMetadata.paymentId !== payment.id || (byMetadata.stripeRefundId !== null && byMetadata.stripeRefundId !== stripeRefund.id)) {
      this.logger.warn(
        { tenantId: payment.tenantId, paymentId: payment.id, refundId, stripeRefundId: stripeRefund.id },
        'Stripe refund names a refund of another payment or another Stripe refund; stored as a refund made outside the service',
      );

      return null;
    }

    return byMetadata;
  }

  /** Finds and locks the payment a refund or charge belongs to: by PaymentIntent id, then by charge id. */
  private async lockPayment(manager: EntityManager, tenantId: string, pointer: PaymentPointer): Promise<PaymentEntity | null> {
    const byIntent = pointer.paymentIntentId ? await this.payments.lockByPaymentIntentId(manager, tenantId, pointer.paymentIntentId) : null;
    if (byIntent) {
      return byIntent;
    }

    return pointer.chargeId ? this.payments.lockByChargeId(manager, tenantId, pointer.chargeId) : null;
  }

  /**
   * Decides the outcome of an event about a payment the service does not
   * store. When the service's metadata (on the object, or on its PaymentIntent
   * read from Stripe) names one of this tenant's payments, that payment is
   * being stored, so the event is retried later. Otherwise the event is not
   * about the service's objects. Runs outside any transaction, since it may
   * call Stripe.
   */
  private async outcomeForUnknownPayment(
    context: StripeEventContext,
    pointer: PaymentPointer,
    refundMetadata: Stripe.Metadata | null,
    event: Stripe.Event,
  ): Promise<StripeEventOutcome> {
    const { tenantId } = context;
    const logContext = { tenantId, stripeEventId: event.id, type: event.type, paymentIntentId: pointer.paymentIntentId, chargeId: pointer.chargeId };
    if (namesPaymentOfTenant(pointer.metadata, tenantId) || namesPaymentOfTenant(refundMetadata, tenantId)) {
      throw new RetryLaterError(`The payment of ${event.type} ${event.id} is not stored yet; retrying later`);
    }
    if (context.connection === null) {
      this.logger.debug(logContext, 'Refund event for a disconnected tenant about a payment the service does not store');

      return TENANT_DISCONNECTED;
    }

    const intent = pointer.paymentIntentId ? await this.reader.retrievePaymentIntent(tenantId, pointer.paymentIntentId) : null;
    if (intent && namesPaymentOfTenant(intent.metadata, tenantId)) {
      throw new RetryLaterError(`Payment ${intent.metadata[PAYMENT_ID_METADATA_KEY]} of ${event.type} ${event.id} is not stored yet; retrying later`);
    }

    this.logger.debug(logContext, 'Refund event about a charge the service did not create');

    return UNKNOWN_OBJECT;
  }
}

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (!value) {
    return null;
  }

  return typeof value === 'string' ? value : value.id;
}

function namesPaymentOfTenant(metadata: Stripe.Metadata | null | undefined, tenantId: string): boolean {
  return Boolean(metadata?.[PAYMENT_ID_METADATA_KEY]) && metadata?.[TENANT_ID_METADATA_KEY] === tenantId;
}
