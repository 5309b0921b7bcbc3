import { DomainError, StoredKeyUndecryptableError } from '@app/common/errors/domain-error';

export function stripeNotConnected(): DomainError {
  return new DomainError('stripe_not_connected', 'Connect Stripe in Settings → Billing first.');
}

/** Build the error for a connection in `error`. Calls are rejected without reaching Stripe until the keys work again. */
export function storedKeysInvalid(): DomainError {
  return new DomainError(
    'stripe_keys_invalid',
    'Stripe rejected the stored secret key. Verify the connection or enter new keys in Settings → Billing.',
  );
}

/**
 * Builds the error for a stored secret key this service cannot decrypt, so no
 * Stripe call can be made with it. The code is `stripe_keys_invalid`, the
 * contract's code for an unusable stored key, and the detail says who can fix it and how.
 */
export function storedKeyUndecryptable(): StoredKeyUndecryptableError {
  return new StoredKeyUndecryptableError(
    'The stored Stripe secret key cannot be decrypted, so Stripe was not called. ' +
      'The service operator must restore the encryption key it was stored under to APP_ENCRYPTION_KEY; ' +
      'until then, enter the keys again in Settings → Billing.',
  );
}

export function modeMismatch(): DomainError {
  return new DomainError('stripe_mode_mismatch', 'The publishable key and the secret key must both be test keys or both be live keys.', {
    errors: [{ field: 'secretKey', message: 'must be of the same mode (test or live) as publishableKey' }],
  });
}

export function liveModeNotAllowed(): DomainError {
  return new DomainError(
    'live_mode_not_allowed',
    'Live keys are accepted only once a platform operator has allowed live mode for this tenant. Use test keys until then.',
    { errors: [{ field: 'secretKey', message: 'is a live key, and live mode is not allowed yet' }] },
  );
}

export function alreadyConnected(status: 'connected' | 'error'): DomainError {
  const detail =
    status === 'connected'
      ? 'Stripe is already connected. Edit the keys, or disconnect first.'
      : 'Stripe is connected but its keys are rejected. Edit the keys or verify the connection, or disconnect first.';

  return new DomainError('invalid_state', detail);
}

export function accountInUse(): DomainError {
  return new DomainError(
    'stripe_account_in_use',
    'This Stripe account is already connected to another tenant in this mode. Use the keys of another Stripe account.',
    { errors: [{ field: 'secretKey', message: 'belongs to a Stripe account connected to another tenant' }] },
  );
}

export function accountMismatch(): DomainError {
  return new DomainError(
    'stripe_account_mismatch',
    'The new keys belong to another Stripe account. Disconnect and connect again to switch accounts.',
    { errors: [{ field: 'secretKey', message: 'belongs to another Stripe account than the connected one' }] },
  );
}
