import { DomainEvent } from '@app/common/events/domain-event';

export interface PaymentSucceededPayload {
  paymentId: string;
  amount: number;
  currency: string;
  livemode: boolean;
  description: string | null;
  receiptEmail: string | null;
  customerId: string | null;
  stripePaymentIntentId: string;
  /** ISO time Stripe reported the success (the intent's charge), used for the invoice date. */
  succeededAt: string;
}

export class PaymentSucceededEvent extends DomainEvent<PaymentSucceededPayload> {
  static override readonly eventName = 'payments.payment_succeeded';
}

export class PaymentFailedEvent extends DomainEvent<{
  paymentId: string;
  amount: number;
  currency: string;
  failureCode: string | null;
  declineCode: string | null;
}> {
  static override readonly eventName = 'payments.payment_failed';
}

export interface PaymentRefundedPayload {
  paymentId: string;
  /** The refund whose change moved `amountRefunded`. */
  refundId: string;
  /** That refund's amount, in the currency's minor unit. */
  amount: number;
  /**
   * The payment's total of succeeded refunds after the change, in the minor
   * unit. Set it, do not add `amount` to it: a refund that fails after it
   * succeeded lowers it again (`refundStatus` is then `failed` or `canceled`).
   */
  amountRefunded: number;
  currency: string;
  // The fields below were added after the first release of this event, so they are optional for older producers.
  /** The refund's status after the change: `succeeded`, or `failed`/`canceled` when a succeeded refund was reversed. */
  refundStatus?: 'succeeded' | 'failed' | 'canceled';
  stripeRefundId?: string | null;
  /** The payment's status after the change: `succeeded`, `partially_refunded` or `refunded`. */
  paymentStatus?: string;
  /** `api` for a refund asked for through this service, `stripe` for one made outside it (the Stripe Dashboard). */
  origin?: 'api' | 'stripe';
}

/**
 * Published whenever a payment's `amountRefunded` changes: a refund
 * succeeded, or a succeeded refund failed later. Events of one payment carry
 * its aggregate sequence, so a consumer applies them in order.
 */
export class PaymentRefundedEvent extends DomainEvent<PaymentRefundedPayload> {
  static override readonly eventName = 'payments.payment_refunded';
}
