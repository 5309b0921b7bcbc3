import { DomainError } from '../errors/domain-error';

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

  return new DomainError('stripe_unavailable', `Stripe rejected the request (${error.code ?? error.type}). Retry later or check the request.`);
}
