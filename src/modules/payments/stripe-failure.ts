import { describeError } from '@app/common/logging/error-description';
import { isStripeError } from '@app/common/stripe/stripe-error.mapper';

/**
 * Describes a failed Stripe call for a log line: Stripe's type, code and HTTP
 * status, without the message, because Stripe's messages about keys quote part
 * of the key. Other errors keep their name and message.
 */
export function describeStripeFailure(error: unknown): Record<string, unknown> {
  if (isStripeError(error)) {
    return { stripeErrorType: error.type, stripeErrorCode: error.code ?? null, statusCode: error.statusCode ?? null };
  }

  return { err: describeError(error) };
}
