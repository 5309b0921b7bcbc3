import { DomainError } from '@app/common/errors/domain-error';
import { isDatabaseUnavailable } from '@app/common/errors/problem-details.filter';
import { PermanentJobError, RetryLaterError } from '@app/common/queues/job-errors';
import { isStripeError, isStripeKeyRejected, isStripeTransient } from '@app/common/stripe/stripe-error.mapper';
import { UnrecoverableError } from 'bullmq';

/** How a failed attempt goes on: `retry` with backoff, or `fail` at once. */
export interface ProcessingErrorClass {
  action: 'retry' | 'fail';
  /** Stored as the row's `reason` when the row fails: a contract error code or a short snake_case cause. */
  reason: string;
}

/**
 * Domain error codes that no retry can mend: the tenant's key is revoked or
 * lacks a permission, the tenant is not connected, or the data is invalid. An
 * operator replays such an event once the cause is fixed.
 */
const PERMANENT_DOMAIN_CODES = new Set(['stripe_keys_invalid', 'stripe_permission_missing', 'stripe_not_connected', 'validation_failed']);

/** PostgreSQL errors of concurrent writers (serialization failure, deadlock, lock not available): worth retrying. */
const LOCK_CONFLICT_CODES = new Set(['40001', '40P01', '55P03']);

/**
 * Classify an error a webhook event's processing raised. Transient trouble
 * retries: Stripe 5xx, timeouts and 429, lock conflicts, the database being
 * away, an object of ours not stored yet (RetryLaterError), and anything
 * unknown. Permanent errors fail at once: a revoked or rejected key, a missing
 * permission, invalid data that Stripe or PostgreSQL rejected.
 */
export function classifyProcessingError(error: unknown): ProcessingErrorClass {
  if (error instanceof PermanentJobError) {
    return { action: 'fail', reason: error.reason };
  }
  if (error instanceof UnrecoverableError) {
    return { action: 'fail', reason: 'unrecoverable' };
  }
  if (error instanceof RetryLaterError) {
    return { action: 'retry', reason: 'retry_later' };
  }
  if (error instanceof DomainError) {
    return { action: PERMANENT_DOMAIN_CODES.has(error.code) ? 'fail' : 'retry', reason: error.code };
  }
  if (isStripeError(error)) {
    return classifyStripeError(error);
  }

  const code = postgresErrorCode(error);
  if (code !== null && LOCK_CONFLICT_CODES.has(code)) {
    return { action: 'retry', reason: 'lock_conflict' };
  }
  if (isDatabaseUnavailable(error)) {
    return { action: 'retry', reason: 'database_unavailable' };
  }
  if (code !== null && code.startsWith('22')) {
    // SQLSTATE class 22, data exception: the event's values cannot be stored.
    return { action: 'fail', reason: 'invalid_data' };
  }

  return { action: 'retry', reason: 'error' };
}

function classifyStripeError(error: { type?: string; statusCode?: number }): ProcessingErrorClass {
  if (isStripeTransient(error)) {
    return { action: 'retry', reason: 'stripe_unavailable' };
  }
  if (isStripeKeyRejected(error)) {
    return { action: 'fail', reason: 'stripe_keys_invalid' };
  }
  if (error.type === 'StripePermissionError' || error.statusCode === 403) {
    return { action: 'fail', reason: 'stripe_permission_missing' };
  }
  if (error.type === 'StripeIdempotencyError') {
    return { action: 'fail', reason: 'stripe_idempotency_error' };
  }
  if (error.type === 'StripeInvalidRequestError' || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)) {
    return { action: 'fail', reason: 'stripe_invalid_request' };
  }

  return { action: 'retry', reason: 'stripe_unavailable' };
}

function postgresErrorCode(error: unknown): string | null {
  if (typeof error !== 'object' || error === null) {
    return null;
  }

  const driverError = (error as { driverError?: { code?: unknown } }).driverError;
  const code = driverError?.code ?? (error as { code?: unknown }).code;

  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}
