import { DomainError } from '../errors/domain-error';
import { redactSecrets } from '../keys/stripe-keys';

/** The fields of stripe-node's StripeError this service reads. */
interface StripeErrorLike {
  type?: string;
  rawType?: string;
  statusCode?: number;
  code?: string;
  decline_code?: string;
  param?: string;
  message?: string;
}

export function isStripeError(error: unknown): error is StripeErrorLike {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as StripeErrorLike).type === 'string' &&
    String((error as StripeErrorLike).type).startsWith('Stripe')
  );
}

/** Return whether Stripe rejected the key itself as revoked, expired or wrong. */
export function isStripeKeyRejected(error: unknown): boolean {
  return isStripeError(error) && (error.type === 'StripeAuthenticationError' || error.statusCode === 401);
}

/** Stripe could not be reached, timed out, rate limited us or failed on its side: worth retrying. */
export function isStripeTransient(error: unknown): boolean {
  if (!isStripeError(error)) {
    return false;
  }

  return (
    error.type === 'StripeConnectionError' ||
    error.type === 'StripeAPIError' ||
    error.type === 'StripeRateLimitError' ||
    (error.statusCode !== undefined && (error.statusCode >= 500 || error.statusCode === 429))
  );
}

/**
 * Map a stripe-node error to the contract's codes, in one place. Card errors are
 * left to the caller, which has the payment they belong to. The message of an
 * authentication error is never passed on, because Stripe quotes part of the key.
 */
export function mapStripeError(error: unknown, field = 'secretKey'): DomainError {
  if (!isStripeError(error)) {
    return new DomainError('stripe_unavailable', 'Stripe could not be reached. Retry later.', { cause: error });
  }

  if (isStripeTransient(error)) {
    return new DomainError('stripe_unavailable', 'Stripe could not be reached, timed out or failed. Retry later.');
  }

  if (isStripeKeyRejected(error)) {
    return new DomainError(
      'stripe_keys_invalid',
      'Stripe rejected the secret key (revoked, expired or wrong). Enter a valid key from the Stripe Dashboard.',
      { errors: [{ field, message: 'was rejected by Stripe' }] },
    );
  }

  if (error.type === 'StripePermissionError' || error.statusCode === 403) {
    const permission = /'(rak_[a-z_]+)'/.exec(error.message ?? '')?.[1];
    const detail = permission
      ? `The restricted key lacks the ${permission} permission. Add it in the Stripe Dashboard or use another key.`
      : 'The restricted key lacks a permission this call needs. Add it in the Stripe Dashboard or use another key.';

    return new DomainError('stripe_permission_missing', detail, {
      errors: [{ field, message: 'lacks a required permission' }],
      extensions: { permission: permission ?? null },
    });
  }

  if (error.type === 'StripeInvalidRequestError') {
    return stripeRejectedRequest(error);
  }

  return new DomainError('stripe_unavailable', `Stripe rejected the request (${error.code ?? error.type}). Retry later or check the request.`);
}

/**
 * Map a request Stripe rejected as invalid for the objects it names or their
 * state, such as an object missing from the connected account after the tenant
 * connected another one (`resource_missing`) or a charge refunded in the
 * Dashboard meanwhile. Sending it again cannot succeed, so it is a 409 and
 * not the retryable 502. Stripe's message names the object and passes through
 * the secret redaction, as any text from outside does.
 */
function stripeRejectedRequest(error: StripeErrorLike): DomainError {
  const code = error.code ?? 'invalid_request';
  const message = redactSecrets(error.message ?? '').trim().replace(/[.\s]+$/, '');
  const sentences = [message ? `Stripe rejected the request (${code}): ${message}.` : `Stripe rejected the request (${code}).`];
  if (code === 'resource_missing') {
    sentences.push('The object is not in the connected Stripe account: it was deleted, or made with an account connected before.');
  }

  return new DomainError('invalid_state', sentences.join(' '), { extensions: { stripeCode: code } });
}
