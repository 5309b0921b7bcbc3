import { DomainError } from '@app/common/errors/domain-error';
import { PermanentJobError, RetryLaterError } from '@app/common/queues/job-errors';
import { Job, UnrecoverableError } from 'bullmq';
import { failedAttemptResult, jobFailureReason } from './job-metrics';

function jobAfterAttempt(attemptsMade: number, attempts: number): Job {
  return { name: 'send-invoice', attemptsMade, opts: { attempts } } as unknown as Job;
}

describe('failedAttemptResult', () => {
  it('returns retry while attempts are left', () => {
    expect(failedAttemptResult(jobAfterAttempt(1, 10), new Error('timeout'))).toBe('retry');
  });

  it('returns failed after the last attempt', () => {
    expect(failedAttemptResult(jobAfterAttempt(10, 10), new Error('timeout'))).toBe('failed');
  });

  it('returns failed for an unrecoverable error', () => {
    expect(failedAttemptResult(jobAfterAttempt(1, 10), new UnrecoverableError('bad data'))).toBe('failed');
  });

  it('returns failed for a permanent job error', () => {
    expect(failedAttemptResult(jobAfterAttempt(1, 10), new PermanentJobError('invoice_not_found', 'gone'))).toBe('failed');
  });
});

describe('jobFailureReason', () => {
  it('uses the reason of a permanent job error', () => {
    expect(jobFailureReason(new PermanentJobError('stripe_keys_invalid', 'rejected'))).toBe('stripe_keys_invalid');
  });

  it('uses the code of a domain error', () => {
    expect(jobFailureReason(new DomainError('stripe_unavailable', 'Stripe did not respond'))).toBe('stripe_unavailable');
  });

  it('names a retry-later error', () => {
    expect(jobFailureReason(new RetryLaterError('payment not stored yet'))).toBe('retry_later');
  });

  it('returns error for other errors', () => {
    expect(jobFailureReason(new TypeError('x is undefined'))).toBe('error');
  });
});
