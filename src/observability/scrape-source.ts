import { RepeatedErrorLog } from '@app/common/logging/repeated-error-log';
import { Logger } from '@nestjs/common';

export interface ScrapeSourceOptions<T> {
  /** Short name for logs, e.g. `webhook_events`. */
  name: string;
  load: () => Promise<T>;
  /** A value younger than this is served from the cache instead of loading again. */
  cacheTtlMs: number;
  /** A load taking longer counts as failed. The load itself keeps running until its own driver times out. */
  timeoutMs: number;
  logger: Logger;
  now?: () => number;
}

/** Failures are logged at most this often per source, since Prometheus scrapes every few seconds. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

/**
 * One value a scrape needs from the database or Redis, loaded at most once
 * per `cacheTtlMs` and at most once at a time: concurrent scrapes share the
 * load in flight. `read()` never rejects. It resolves `undefined` when the
 * load failed or timed out, and the caller then reports the gauge as NaN.
 */
export class ScrapeSource<T> {
  private cached: { value: T; loadedAt: number } | undefined;
  private inFlight: Promise<T | undefined> | undefined;
  private readonly failures: RepeatedErrorLog;
  private readonly now: () => number;

  constructor(private readonly options: ScrapeSourceOptions<T>) {
    this.now = options.now ?? Date.now;
    this.failures = new RepeatedErrorLog(
      options.logger,
      `Metrics source ${options.name} failed to load; its gauges read NaN until it recovers`,
      FAILURE_LOG_INTERVAL_MS,
      this.now,
    );
  }

  read(): Promise<T | undefined> {
    if (this.cached && this.now() - this.cached.loadedAt < this.options.cacheTtlMs) {
      return Promise.resolve(this.cached.value);
    }
    this.inFlight ??= this.loadOnce().finally(() => {
      this.inFlight = undefined;
    });

    return this.inFlight;
  }

  private async loadOnce(): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      timer.unref();
    });

    try {
      const value = await Promise.race([this.options.load(), timeout]);
      this.cached = { value, loadedAt: this.now() };

      return value;
    } catch (error) {
      this.cached = undefined;
      this.failures.record(error);

      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
