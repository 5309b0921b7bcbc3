import { FailOpenThrottlerStorage } from '@app/common/rate-limits/fail-open-throttler-storage';
import { RateLimitStore } from '@app/common/rate-limits/rate-limit-store';
import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { API_THROTTLER, ApiRateLimitGuard } from './api-rate-limit.guard';

/**
 * The per-token and per-session API limit (RATE_LIMIT_API) through
 * @nestjs/throttler, its counts in Redis. The login and webhook limits count
 * failures only, which the throttler cannot express, so their contexts run
 * them on the same RateLimitStore.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG, RateLimitStore],
      useFactory: (config: AppConfig, store: RateLimitStore) => {
        const ttl = config.rateLimitApi.windowSeconds * 1000;

        return {
          throttlers: [{ name: API_THROTTLER, limit: config.rateLimitApi.limit, ttl, blockDuration: ttl }],
          storage: new FailOpenThrottlerStorage(store),
          setHeaders: false,
        };
      },
    }),
  ],
  providers: [{ provide: APP_GUARD, useClass: ApiRateLimitGuard }],
})
export class RateLimitsModule {}
