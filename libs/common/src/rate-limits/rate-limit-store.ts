import { DynamicModule, Global, Injectable, Logger, Module, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { RepeatedErrorLog } from '../logging/repeated-error-log';
import { RateLimitName, recordRateLimitStoreError } from '../metrics/metrics';
import { producerRedisOptions } from '../queues/redis-connection';

/**
 * How long one rate-limit check may take. Past it the check fails open: the
 * request goes through unlimited, so webhook intake and the API keep working
 * while Redis is slow or away.
 */
export const RATE_LIMIT_TIMEOUT_MS = 200;

export interface RateLimitStoreSettings {
  redisUrl: string;
  /** Start of every key, so that processes of one deployment share counts and other deployments do not. */
  keyPrefix: string;
  timeoutMs?: number;
}

class RateLimitTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Redis did not answer a rate-limit check within ${timeoutMs} ms`);
    this.name = 'RateLimitTimeoutError';
  }
}

/**
 * The Redis connection every rate limit shares. It never queues commands while
 * disconnected and never retries, so a check without Redis fails at once or
 * after RATE_LIMIT_TIMEOUT_MS, and `run` turns that failure into "not limited".
 */
@Injectable()
export class RateLimitStore implements OnModuleDestroy {
  readonly redis: Redis;
  readonly keyPrefix: string;
  private readonly timeoutMs: number;
  private readonly logger = new Logger(RateLimitStore.name);
  private readonly errors = new RepeatedErrorLog(this.logger, 'Rate-limit check failed because Redis is unreachable or slow. Requests pass without a limit until Redis responds');

  constructor(settings: RateLimitStoreSettings) {
    this.timeoutMs = settings.timeoutMs ?? RATE_LIMIT_TIMEOUT_MS;
    this.keyPrefix = settings.keyPrefix;
    this.redis = new Redis({
      ...producerRedisOptions(settings.redisUrl),
      commandTimeout: this.timeoutMs,
      connectTimeout: 1_000,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    this.redis.on('error', (error) => this.errors.record(error));
    this.redis.connect().catch(() => undefined);
  }

  /** Builds a key under this deployment's prefix. Callers pass digests, never raw emails, tokens or cookies. */
  key(...parts: string[]): string {
    return [this.keyPrefix, ...parts].join(':');
  }

  /**
   * Build a key like `key` whose Redis Cluster slot depends on `group` only.
   * A script that touches several keys must pass keys of one group, because a
   * cluster rejects a script whose keys sit in different slots (CROSSSLOT).
   */
  groupedKey(group: string, ...parts: string[]): string {
    return [`{${this.keyPrefix}:${group}}`, ...parts].join(':');
  }

  /**
   * Run a Redis call for the named limit. When Redis fails or does not respond
   * within the timeout, logs (at most once a minute), counts the failure in
   * billing_rate_limit_store_errors_total and returns `fallback`.
   */
  async run<T>(limit: RateLimitName, call: (redis: Redis) => Promise<T>, fallback: T): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new RateLimitTimeoutError(this.timeoutMs)), this.timeoutMs);
    });

    try {
      return await Promise.race([call(this.redis), timeout]);
    } catch (error) {
      this.errors.record(error);
      recordRateLimitStoreError(limit);

      return fallback;
    } finally {
      clearTimeout(timer);
    }
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}

/** Provides one RateLimitStore to every module of the process. */
@Global()
@Module({})
export class RateLimitStoreModule {
  static register(settings: RateLimitStoreSettings): DynamicModule {
    return {
      module: RateLimitStoreModule,
      providers: [{ provide: RateLimitStore, useFactory: () => new RateLimitStore(settings) }],
      exports: [RateLimitStore],
    };
  }
}
