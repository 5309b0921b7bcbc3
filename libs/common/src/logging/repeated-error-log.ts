import { Logger } from '@nestjs/common';
import { describeError } from './error-description';

const DEFAULT_INTERVAL_MS = 60_000;

/**
 * Logs an error that repeats, such as a Redis connection error emitted on
 * every reconnect attempt: the first one at once, then at most one line per
 * interval carrying how many were suppressed in between.
 */
export class RepeatedErrorLog {
  private lastLoggedAt = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly message: string,
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  record(error: unknown): void {
    const now = this.now();
    if (this.lastLoggedAt !== 0 && now - this.lastLoggedAt < this.intervalMs) {
      this.suppressed++;

      return;
    }

    this.logger.warn({ err: describeError(error), suppressed: this.suppressed }, this.message);
    this.lastLoggedAt = now;
    this.suppressed = 0;
  }
}
