import { DomainError } from '@app/common/errors/domain-error';
import { PermanentJobError, RetryLaterError } from '@app/common/queues/job-errors';
import { UnrecoverableError } from 'bullmq';
import { QueryFailedError } from 'typeorm';
import { classifyProcessingError } from './webhook-processing-error';

function stripeError(type: string, statusCode?: number): Error {
  return Object.assign(new Error('Stripe says no'), { type, statusCode });
}

function postgresError(code: string): QueryFailedError {
  return new QueryFailedError('UPDATE …', [], Object.assign(new Error(`SQLSTATE ${code}`), { code }));
}

describe('classifyProcessingError', () => {
  it.each([
    ['a Stripe 500', stripeError('StripeAPIError', 500), 'stripe_unavailable'],
    ['a Stripe timeout', stripeError('StripeConnectionError'), 'stripe_unavailable'],
    ['a Stripe 429', stripeError('StripeRateLimitError', 429), 'stripe_unavailable'],
    ['a deadlock', postgresError('40P01'), 'lock_conflict'],
    ['a serialization failure', postgresError('40001'), 'lock_conflict'],
    ['a lock timeout', postgresError('55P03'), 'lock_conflict'],
    ['an object not stored yet', new RetryLaterError('payment not stored yet'), 'retry_later'],
    ['Stripe unavailable as a domain error', new DomainError('stripe_unavailable', 'down'), 'stripe_unavailable'],
    ['a lost database connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'database_unavailable'],
    ['an unknown error', new TypeError('x is undefined'), 'error'],
  ])('retries %s', (_case, error, reason) => {
    expect(classifyProcessingError(error)).toEqual({ action: 'retry', reason });
  });

  it.each([
    ['a revoked key', stripeError('StripeAuthenticationError', 401), 'stripe_keys_invalid'],
    ['a missing permission', stripeError('StripePermissionError', 403), 'stripe_permission_missing'],
    ['an invalid request', stripeError('StripeInvalidRequestError', 400), 'stripe_invalid_request'],
    ['stored keys in error', new DomainError('stripe_keys_invalid', 'rejected'), 'stripe_keys_invalid'],
    ['a disconnected tenant', new DomainError('stripe_not_connected', 'not connected'), 'stripe_not_connected'],
    ['a data exception', postgresError('22P02'), 'invalid_data'],
    ['a permanent job error', new PermanentJobError('amount_mismatch', 'amounts differ'), 'amount_mismatch'],
    ['an unrecoverable error', new UnrecoverableError('no'), 'unrecoverable'],
  ])('fails %s at once', (_case, error, reason) => {
    expect(classifyProcessingError(error)).toEqual({ action: 'fail', reason });
  });
});
