import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service';

/** How often a worker deletes expired keys, and how many per statement. */
export const IDEMPOTENCY_PURGE_INTERVAL_MS = 10 * 60 * 1000;
const PURGE_BATCH_SIZE = 1_000;
const MAX_BATCHES_PER_RUN = 50;

/**
 * Deletes expired Idempotency-Key records in worker processes. Several
 * workers may purge at once: each statement deletes rows that are already
 * expired, so they only share the work.
 */
@Injectable()
export class IdempotencyPurger implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyPurger.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly idempotency: IdempotencyService) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.purge().finally(() => {
        this.running = undefined;
      });
    }, IDEMPOTENCY_PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Deletes expired keys in batches; returns how many went. Public for tests. */
  async purge(): Promise<number> {
    let total = 0;
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
        const deleted = await this.idempotency.purgeExpired(PURGE_BATCH_SIZE);
        total += deleted;
        if (deleted < PURGE_BATCH_SIZE) {
          break;
        }
      }
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error), deleted: total }, 'Purging expired idempotency keys failed; the next run retries');
    }
    if (total > 0) {
      this.logger.log({ deleted: total }, 'Expired idempotency keys purged');
    }

    return total;
  }
}
