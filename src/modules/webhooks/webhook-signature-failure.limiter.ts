import { RepeatedErrorLog } from '@app/common/logging/repeated-error-log';
import { producerRedisOptions } from '@app/common/queues/redis-connection';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '../../config/app-config';

/**
 * How long one count may take. The limiter fails open: while Redis is slow or
 * away, failed deliveries get 400 without a limit rather than a delay.
 */
const COMMAND_TIMEOUT_MS = 200;

/**
 * Count a failure in a fixed window: INCR, and start the window's expiry on the
 * first failure. Returns the count and the seconds left in the window.
 */
const COUNT_FAILURE_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }`;

export interface SignatureFailureCount {
  /** True once the endpoint has had more failed signatures than the limit in the current window. */
  limited: boolean;
  /** Seconds until the window ends, for Retry-After. */
  retryAfterSeconds: number;
}

/**
 * The failed-signature rate limit per webhook endpoint token
 * (RATE_LIMIT_WEBHOOK_FAILURES). Only failures are counted, so a verified
 * delivery costs no Redis call and is never limited. Counts live in Redis so
 * every api process shares them.
 */
@Injectable()
export class WebhookSignatureFailureLimiter implements OnModuleDestroy {
  private readonly logger = new Logger(WebhookSignatureFailureLimiter.name);
  private readonly redisErrors = new RepeatedErrorLog(this.logger, 'Webhook signature failure limiter cannot reach Redis; failures are not limited');
  private readonly redis: Redis;
  private readonly keyPrefix: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.redis = new Redis({ ...producerRedisOptions(config.redisUrl), commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 0, lazyConnect: true });
    this.redis.on('error', (error) => this.redisErrors.record(error));
    this.redis.connect().catch(() => undefined);
    this.keyPrefix = `${config.queuePrefix}:webhook-signature-failures:`;
  }

  /** Count a failed signature on the endpoint. Never throws: without Redis the delivery is simply not limited. */
  async recordFailure(endpointToken: string): Promise<SignatureFailureCount> {
    const { limit, windowSeconds } = this.config.rateLimitWebhookFailures;
    try {
      const [count, ttl] = (await this.redis.eval(COUNT_FAILURE_SCRIPT, 1, this.keyPrefix + endpointToken, windowSeconds)) as [number, number];

      return { limited: count > limit, retryAfterSeconds: Math.max(1, ttl) };
    } catch (error) {
      this.redisErrors.record(error);

      return { limited: false, retryAfterSeconds: 0 };
    }
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}
