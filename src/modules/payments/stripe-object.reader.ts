import { DomainError } from '@app/common/errors/domain-error';
import { isStripeError } from '@app/common/stripe/stripe-error.mapper';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade } from '@app/contracts/stripe-connection.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';

/** Codes that mean the tenant's keys cannot be used now; a re-read then gives way to the event payload. */
const UNUSABLE_CONNECTION_CODES = new Set(['stripe_not_connected', 'stripe_keys_invalid', 'stripe_permission_missing']);

/** The maximum number of refunds read for one payment; a card charge has far fewer. */
const MAX_REFUNDS_READ = 1_000;

/**
 * Re-reads Stripe objects with the tenant's key, for the cases where an event
 * alone cannot settle the state (two events of the same second, a charge
 * event without its refunds). Each read returns null when the tenant has no
 * usable keys or when the object is not in the account, so the caller falls
 * back to the payload. Keys are unusable when not connected, in error, or
 * rejected by Stripe (which turns the connection to error). Transient
 * failures throw `stripe_unavailable`, which retries the event.
 */
@Injectable()
export class StripeObjectReader {
  private readonly logger = new Logger(StripeObjectReader.name);

  constructor(@Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade) {}

  async retrievePaymentIntent(tenantId: string, paymentIntentId: string): Promise<Stripe.PaymentIntent | null> {
    return this.read(tenantId, { paymentIntentId }, (stripe) => stripe.paymentIntents.retrieve(paymentIntentId, { expand: ['latest_charge'] }));
  }

  async retrieveRefund(tenantId: string, refundId: string): Promise<Stripe.Refund | null> {
    return this.read(tenantId, { stripeRefundId: refundId }, (stripe) => stripe.refunds.retrieve(refundId));
  }

  /** Lists every refund of a PaymentIntent, newest first. */
  async listRefunds(tenantId: string, paymentIntentId: string): Promise<Stripe.Refund[] | null> {
    return this.read(tenantId, { paymentIntentId }, (stripe) =>
      stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 }).autoPagingToArray({ limit: MAX_REFUNDS_READ }),
    );
  }

  private async read<T>(tenantId: string, ids: Record<string, string>, call: (stripe: Stripe) => Promise<T>): Promise<T | null> {
    let stripe: Stripe;
    try {
      stripe = (await this.stripeConnection.getClient(tenantId)).stripe;
    } catch (error) {
      if (error instanceof DomainError && UNUSABLE_CONNECTION_CODES.has(error.code)) {
        this.logger.debug({ tenantId, ...ids, code: error.code }, 'No usable Stripe keys; working from the event payload');

        return null;
      }
      throw error;
    }

    try {
      return await call(stripe);
    } catch (error) {
      if (isStripeError(error) && error.statusCode === 404) {
        this.logger.warn({ tenantId, ...ids }, 'Stripe object not found in the tenant\'s account');

        return null;
      }

      const mapped = await this.stripeConnection.translateStripeError(tenantId, error);
      if (mapped instanceof DomainError && UNUSABLE_CONNECTION_CODES.has(mapped.code)) {
        this.logger.warn({ tenantId, ...ids, code: mapped.code }, 'Stripe rejected the tenant\'s key on a re-read; working from the event payload');

        return null;
      }
      throw mapped;
    }
  }
}
