import { UnrecoverableError } from 'bullmq';

/**
 * A job that cannot succeed however often it runs (revoked key, invalid data).
 * BullMQ fails it at once without using up its attempts.
 */
export class PermanentJobError extends UnrecoverableError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/** Not an error of the data: try again later (an object of ours not stored yet, a lock conflict). */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}
