/**
 * Stable error codes of the HTTP contract, with the status and title each one
 * answers with. Clients switch on `code`, so a code is never renamed.
 */
export const ERROR_CATALOG = {
  validation_failed: { status: 400, title: 'Request is invalid' },
  signature_invalid: { status: 400, title: 'Webhook signature is invalid' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Not allowed for this role' },
  csrf_failed: { status: 403, title: 'Missing CSRF header' },
  not_found: { status: 404, title: 'Not found' },
  already_exists: { status: 409, title: 'Already exists' },
  stripe_not_connected: { status: 409, title: 'Stripe is not connected' },
  live_mode_not_allowed: { status: 409, title: 'Live mode is not allowed' },
  stripe_account_mismatch: { status: 409, title: 'Keys belong to another Stripe account' },
  stripe_account_in_use: { status: 409, title: 'Stripe account already connected' },
  idempotency_key_reused: { status: 409, title: 'Idempotency key reused' },
  idempotency_key_in_use: { status: 409, title: 'Idempotency key in use' },
  invalid_state: { status: 409, title: 'Invalid state' },
  card_declined: { status: 402, title: 'Card declined' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  stripe_keys_invalid: { status: 422, title: 'Stripe keys are invalid' },
  stripe_permission_missing: { status: 422, title: 'Stripe key lacks a permission' },
  stripe_mode_mismatch: { status: 422, title: 'Stripe key modes differ' },
  refund_exceeds_payment: { status: 422, title: 'Refund exceeds payment' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal error' },
  stripe_unavailable: { status: 502, title: 'Stripe is unavailable' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;
