import { DomainError } from '@app/common/errors/domain-error';
import type { PaymentEntity } from './payment.entity';

/** Advice for the tenant's staff to pass on to the customer, by Stripe's decline or error code. */
const DECLINE_ADVICE: Record<string, string> = {
  insufficient_funds: 'The card has insufficient funds. Ask the customer for another card.',
  lost_card: 'The card was reported lost. Ask the customer for another card.',
  stolen_card: 'The card was reported stolen. Ask the customer for another card.',
  fraudulent: 'The payment was declined as likely fraudulent. Do not retry this card.',
  card_velocity_exceeded: 'The card was declined for too many attempts or too large an amount. Ask the customer to contact their bank or use another card.',
};

const ERROR_ADVICE: Record<string, string> = {
  expired_card: 'The card has expired. Ask the customer for another card.',
  incorrect_cvc: "The card's security code is incorrect. Ask the customer to enter the card again.",
  incorrect_number: 'The card number is incorrect. Ask the customer to enter the card again.',
  processing_error: 'An error occurred while processing the card. Try the payment again in a little while.',
};

const DEFAULT_ADVICE = 'The card was declined. Ask the customer to use another card or to contact their bank.';

/**
 * Builds the 402 for any Stripe card error. The payment is stored as failed, so the
 * problem names it (`paymentId`) with Stripe's codes.
 */
export function cardDeclined(payment: PaymentEntity): DomainError {
  const detail =
    (payment.declineCode ? DECLINE_ADVICE[payment.declineCode] : undefined) ??
    (payment.failureCode ? ERROR_ADVICE[payment.failureCode] : undefined) ??
    DEFAULT_ADVICE;

  return new DomainError('card_declined', detail, {
    extensions: { paymentId: payment.id, failureCode: payment.failureCode, declineCode: payment.declineCode },
  });
}

/** 409 for a refund of a payment that never succeeded. */
export function paymentNotRefundable(payment: PaymentEntity): DomainError {
  return new DomainError('invalid_state', `The payment is ${payment.status}; only a succeeded payment can be refunded.`, {
    extensions: { paymentId: payment.id, paymentStatus: payment.status },
  });
}

/** 422 for a refund larger than what is left to refund (nothing, on a refunded payment). */
export function refundExceedsPayment(payment: PaymentEntity, requested: number | null, refundable: number): DomainError {
  const detail =
    refundable === 0
      ? 'Nothing is left to refund on this payment: succeeded and pending refunds cover its whole amount.'
      : `The refund of ${requested ?? refundable} is more than the ${refundable} left to refund, in the minor unit of ${payment.currency}.`;

  return new DomainError('refund_exceeds_payment', detail, {
    errors: requested === null ? undefined : [{ field: 'amount', message: `must be at most ${refundable}` }],
    extensions: { paymentId: payment.id, amountRefundable: refundable },
  });
}
