import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { RateLimitName } from '../metrics/metrics';
import { RateLimitStore } from './rate-limit-store';

/**
 * @nestjs/throttler storage in Redis (@nest-lab/throttler-storage-redis: one
 * EVAL a request), so every api process shares the counts. When Redis fails or
 * is slow the request is counted as the first of its window and passes.
 */
export class FailOpenThrottlerStorage implements ThrottlerStorage {
  private readonly storage: ThrottlerStorageRedisService;

  constructor(private readonly store: RateLimitStore) {
    this.storage = new ThrottlerStorageRedisService(store.redis);
  }

  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const passed: ThrottlerStorageRecord = { totalHits: 1, timeToExpire: Math.ceil(ttl / 1000), isBlocked: false, timeToBlockExpire: 0 };

    return this.store.run(throttlerName as RateLimitName, () => this.storage.increment(this.store.key(key), ttl, limit, blockDuration, throttlerName), passed);
  }
}
