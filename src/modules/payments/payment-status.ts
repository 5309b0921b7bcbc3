import type Stripe from 'stripe';

export const PAYMENT_STATUSES = [
  'processing',
  'requires_action',
  'failed',
  'succeeded',
  'partially_refunded',
  'refunded',
] as const;

export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** The four statuses that follow the PaymentIntent; the refund statuses are derived from a succeeded one. */
export type IntentPaymentStatus = 'processing' | 'requires_action' | 'failed' | 'succeeded';

/**
 * How far a payment has progressed. Statuses only move to a higher rank:
 * processing/requires_action → failed → succeeded. A failed intent can still
 * succeed on a later attempt, and a succeeded one never goes back. The refund
 * statuses rank with succeeded because they describe a succeeded payment.
 */
const RANK: Record<PaymentStatus, number> = {
  processing: 0,
  requires_action: 0,
  failed: 1,
  succeeded: 2,
  partially_refunded: 2,
  refunded: 2,
};

export function paymentStatusRank(status: PaymentStatus): number {
  return RANK[status];
}

export function isPaymentStatus(value: string): value is PaymentStatus {
  return (PAYMENT_STATUSES as readonly string[]).includes(value);
}

/**
 * Maps a PaymentIntent status to the payment's status. After a declined
 * attempt Stripe moves the intent back to `requires_payment_method`, which for
 * the payment means failed; a canceled intent will never be paid either.
 */
export function paymentStatusForIntent(status: Stripe.PaymentIntent.Status): IntentPaymentStatus {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'requires_action':
      return 'requires_action';
    case 'requires_payment_method':
    case 'canceled':
      return 'failed';
    case 'processing':
    case 'requires_confirmation':
    case 'requires_capture':
    default:
      return 'processing';
  }
}

/**
 * Derives the status to store for a payment: the intent's status, except that a
 * succeeded payment shows its refunds (`partially_refunded`, `refunded`).
 * A refund that fails later lowers `amountRefunded` and so moves it back.
 */
export function derivePaymentStatus(intentStatus: IntentPaymentStatus, amount: number, amountRefunded: number): PaymentStatus {
  if (intentStatus !== 'succeeded' || amountRefunded <= 0) {
    return intentStatus;
  }

  return amountRefunded >= amount ? 'refunded' : 'partially_refunded';
}

/** Returns the intent-side status of a stored payment, undoing the refund derivation. */
export function intentStatusOf(status: PaymentStatus): IntentPaymentStatus {
  return status === 'partially_refunded' || status === 'refunded' ? 'succeeded' : status;
}

/** The direction in which an observed intent status would move a payment. */
export type StatusMove = 'forward' | 'same' | 'lateral' | 'backward';

/**
 * Compares an observed intent status with the stored one. `lateral` is a
 * change within the same rank (processing ↔ requires_action), which only a
 * newer observation may apply.
 */
export function classifyStatusMove(current: PaymentStatus, observed: IntentPaymentStatus): StatusMove {
  const from = intentStatusOf(current);
  if (from === observed) {
    return 'same';
  }

  const difference = paymentStatusRank(observed) - paymentStatusRank(from);
  if (difference > 0) {
    return 'forward';
  }

  return difference < 0 ? 'backward' : 'lateral';
}
