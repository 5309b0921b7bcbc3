import { DomainError } from '@app/common/errors/domain-error';
import { describeError } from '@app/common/logging/error-description';
import { isStripeError, isStripeKeyRejected, isStripeTransient } from '@app/common/stripe/stripe-error.mapper';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { PaymentEntity } from './payment.entity';
import { PAYMENT_ID_METADATA_KEY, REFUND_ID_METADATA_KEY, TENANT_ID_METADATA_KEY } from './payment-input';
import { refundExceedsPayment } from './payments.errors';
import { PaymentsRepository } from './payments.repository';
import { RefundEntity } from './refund.entity';
import { RefundSettlementService } from './refund-settlement.service';
import { observeRefund, refundableAmount } from './refund-status';
import { RefundSyncService } from './refund-sync.service';
import { RefundsRepository } from './refunds.repository';
import { describeStripeFailure } from './stripe-failure';

/** Stripe's codes for a refund larger than what the charge has left: its view of the balance is newer than ours. */
const OVER_REFUND_CODES = new Set(['amount_too_large', 'charge_already_refunded']);

/** Codes meaning the tenant's keys cannot be used, so a job that meets them fails for good. */
export const CONNECTION_ERROR_CODES = new Set(['stripe_not_connected', 'stripe_keys_invalid', 'stripe_permission_missing']);

export type RefundSubmission =
  /** Stripe responded, and the refund now has the status Stripe reported. */
  | { kind: 'applied'; refund: RefundEntity }
  /** No response (timeout, 5xx, 429, network), so Stripe may or may not have the refund and it stays pending. */
  | { kind: 'unanswered'; error: Error }
  /** Stripe rejected the request, so it has no refund: the refund is failed with `failureReason`. */
  | { kind: 'rejected'; error: Error; failureReason: string };

/** Returns the idempotency key of a refund's Stripe request, the same on every retry from the API or a job. */
export function refundIdempotencyKey(refundId: string): string {
  return `refund-${refundId}`;
}

/**
 * Sends a pending refund to Stripe and applies the response. The request
 * carries an idempotency key derived from the refund's id and the same
 * parameters every time, so retries within Stripe's 24 hours get the same
 * refund back. A retry first looks for the refund in Stripe by the id the
 * service put in its metadata, which also covers retries after Stripe has
 * forgotten the key.
 */
@Injectable()
export class RefundSubmissionService {
  private readonly logger = new Logger(RefundSubmissionService.name);

  constructor(
    private readonly payments: PaymentsRepository,
    private readonly refunds: RefundsRepository,
    private readonly settlement: RefundSettlementService,
    private readonly refundSync: RefundSyncService,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
  ) {}

  async submit(client: TenantStripeClient, refund: RefundEntity, options: { lookUpFirst: boolean }): Promise<RefundSubmission> {
    const payment = await this.payments.findById(refund.tenantId, refund.paymentId);
    if (!payment?.stripePaymentIntentId) {
      throw new Error(`Refund ${refund.id} belongs to payment ${refund.paymentId}, which has no PaymentIntent`);
    }

    const logContext = { tenantId: refund.tenantId, paymentId: payment.id, refundId: refund.id };
    let stripeRefund: Stripe.Refund;
    try {
      const found = options.lookUpFirst ? await this.findInStripe(client, payment.stripePaymentIntentId, refund.id) : null;
      if (found) {
        this.logger.log({ ...logContext, stripeRefundId: found.id }, 'Refund found in Stripe by its metadata; not sent again');
      }
      stripeRefund = found ?? (await this.createInStripe(client, payment.stripePaymentIntentId, refund));
    } catch (error) {
      return this.classifyFailure(payment, refund, error);
    }

    const applied = await this.applyAnswer(payment, refund, stripeRefund);
    this.logger.log({ ...logContext, stripeRefundId: stripeRefund.id, status: applied.status }, 'Refund sent to Stripe');

    return { kind: 'applied', refund: applied };
  }

  /** Fails a pending refund Stripe never took, under the payment's lock. */
  async failUnconfirmed(refund: RefundEntity, failureReason: string): Promise<void> {
    await this.payments.transaction(async (manager) => {
      const payment = await this.payments.lockById(manager, refund.tenantId, refund.paymentId);
      const current = await this.refunds.findById(refund.tenantId, refund.id, manager);
      if (payment && current) {
        await this.settlement.failUnconfirmed(manager, payment, current, failureReason);
        Object.assign(refund, current);
      }
    });
  }

  private async createInStripe(client: TenantStripeClient, paymentIntentId: string, refund: RefundEntity): Promise<Stripe.Refund> {
    // Every parameter comes from the stored refund, so a retry sends exactly the
    // first request again, as Stripe requires for a reused idempotency key.
    return client.stripe.refunds.create(
      {
        payment_intent: paymentIntentId,
        amount: refund.amount,
        reason: refund.reason === null || refund.reason === 'expired_uncaptured_charge' ? undefined : refund.reason,
        metadata: {
          [REFUND_ID_METADATA_KEY]: refund.id,
          [PAYMENT_ID_METADATA_KEY]: refund.paymentId,
          [TENANT_ID_METADATA_KEY]: refund.tenantId,
        },
      },
      { idempotencyKey: refundIdempotencyKey(refund.id) },
    );
  }

  private async findInStripe(client: TenantStripeClient, paymentIntentId: string, refundId: string): Promise<Stripe.Refund | null> {
    const listed = await client.stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 }).autoPagingToArray({ limit: 1_000 });

    return listed.find((candidate) => candidate.metadata?.[REFUND_ID_METADATA_KEY] === refundId) ?? null;
  }

  private async applyAnswer(payment: PaymentEntity, refund: RefundEntity, stripeRefund: Stripe.Refund): Promise<RefundEntity> {
    return this.payments.transaction(async (manager) => {
      const locked = await this.payments.lockById(manager, payment.tenantId, payment.id);
      if (!locked) {
        throw new Error(`Payment ${payment.id} disappeared while its refund ${refund.id} was settled`);
      }

      const applied = await this.refundSync.applyToPayment(manager, locked, stripeRefund, observeRefund(stripeRefund, null));

      return applied.refund;
    });
  }

  private async classifyFailure(payment: PaymentEntity, refund: RefundEntity, error: unknown): Promise<RefundSubmission> {
    const logContext = { tenantId: refund.tenantId, paymentId: payment.id, refundId: refund.id, ...describeStripeFailure(error) };
    const stripeCode = isStripeError(error) ? error.code : undefined;

    if (isStripeError(error) && stripeCode !== undefined && OVER_REFUND_CODES.has(stripeCode)) {
      await this.failUnconfirmed(refund, stripeCode);
      const refundable = await this.refundableAfterSync(payment);
      this.logger.warn({ ...logContext, refundable }, 'Stripe rejected a refund larger than what the charge has left; refunds read again from Stripe');

      return { kind: 'rejected', error: refundExceedsPayment(payment, refund.amount, refundable), failureReason: stripeCode };
    }

    const mapped = await this.stripeConnection.translateStripeError(refund.tenantId, error);
    const noResponse = !isStripeError(error) || isStripeTransient(error) || error.type === 'StripeIdempotencyError';
    // A rejected key that is no longer the stored one is mapped to stripe_unavailable: the request may be sent again.
    const keyChanged = isStripeKeyRejected(error) && mapped instanceof DomainError && mapped.code === 'stripe_unavailable';
    if (noResponse || keyChanged) {
      this.logger.warn(logContext, 'Stripe did not respond to the refund request; the refund stays pending until a retry settles it');

      return { kind: 'unanswered', error: mapped };
    }

    const failureReason = mapped instanceof DomainError && CONNECTION_ERROR_CODES.has(mapped.code) ? mapped.code : (stripeCode ?? 'stripe_rejected');
    await this.failUnconfirmed(refund, failureReason);
    this.logger.warn({ ...logContext, failureReason }, 'Stripe rejected the refund request');

    return { kind: 'rejected', error: mapped, failureReason };
  }

  /** Reads the payment's refunds from Stripe and returns what is left to refund afterwards. */
  private async refundableAfterSync(payment: PaymentEntity): Promise<number> {
    try {
      await this.refundSync.syncPayment(payment.tenantId, payment);
    } catch (error) {
      this.logger.warn({ tenantId: payment.tenantId, paymentId: payment.id, err: describeError(error) }, 'Could not read the payment\'s refunds from Stripe');
    }

    const refunds = await this.refunds.listForPayment(this.payments.manager, payment.tenantId, payment.id);

    return refundableAmount(payment.amount, refunds);
  }
}
