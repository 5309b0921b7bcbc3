import { DomainError } from '@app/common/errors/domain-error';
import { isStripeKeyRejected, isStripeTransient } from '@app/common/stripe/stripe-error.mapper';
import { PermanentJobError, RetryLaterError } from '@app/common/queues/job-errors';
import { Job, UnrecoverableError } from 'bullmq';
import { JobResult, recordJob } from './metrics';

/**
 * Records a completed attempt. Call it from the processor's
 * `@OnWorkerEvent('completed')` handler.
 */
export function recordCompletedJob(queue: string, job: Job): void {
  recordJob(queue, job.name, job.processedOn ?? Date.now(), 'completed');
}

/**
 * Records a failed attempt as `retry` or `failed`, with a reason taken from
 * the error. Call it from the processor's `@OnWorkerEvent('failed')` handler,
 * whose job BullMQ may pass as undefined (a job that could not be loaded).
 */
export function recordFailedJob(queue: string, job: Job | undefined, error: Error): void {
  if (!job) {
    return;
  }
  recordJob(queue, job.name, job.processedOn ?? Date.now(), failedAttemptResult(job, error), jobFailureReason(error));
}

/**
 * Returns `failed` when BullMQ will not run the job again, because the error
 * is an UnrecoverableError or the attempt was the last one. BullMQ has already
 * counted the attempt in `attemptsMade` when it emits `failed`.
 */
export function failedAttemptResult(job: Job, error: Error): JobResult {
  if (error instanceof UnrecoverableError || error.name === 'UnrecoverableError') {
    return 'failed';
  }

  return job.attemptsMade >= (job.opts.attempts ?? 1) ? 'failed' : 'retry';
}

/**
 * Returns a bounded reason for billing_job_failures_total: the reason of a
 * PermanentJobError, the code of a DomainError, or the kind of error.
 */
export function jobFailureReason(error: Error): string {
  if (error instanceof PermanentJobError) {
    return error.reason;
  }
  if (error instanceof DomainError) {
    return error.code;
  }
  if (error instanceof RetryLaterError) {
    return 'retry_later';
  }
  if (isStripeKeyRejected(error)) {
    return 'stripe_key_rejected';
  }
  if (isStripeTransient(error)) {
    return 'stripe_unavailable';
  }
  if (error instanceof UnrecoverableError) {
    return 'permanent';
  }

  return 'error';
}
