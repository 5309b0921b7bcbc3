import { recordRateLimitRejection } from '@app/common/metrics/metrics';
import { RateLimitStore } from '@app/common/rate-limits/rate-limit-store';
import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../../config/app-config';

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
  /**
   * True for the one failure that reaches half the limit within a window. So
   * many failures on one endpoint usually mean its signing secret is out of sync.
   */
  spike: boolean;
}

/** Half the limit: early enough to warn before deliveries get 429, and once per window. */
export function spikeThreshold(limit: number): number {
  return Math.max(1, Math.ceil(limit / 2));
}

/**
 * The failed-signature rate limit per webhook endpoint token
 * (RATE_LIMIT_WEBHOOK_FAILURES). Only failures are counted, so a verified
 * delivery costs no Redis call and is never limited. Counts live in Redis so
 * every api process shares them; without Redis, failures are not limited.
 */
@Injectable()
export class WebhookSignatureFailureLimiter {
  constructor(
    private readonly store: RateLimitStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Count a failed signature on the endpoint. Never throws. */
  async recordFailure(endpointToken: string): Promise<SignatureFailureCount> {
    const { limit, windowSeconds } = this.config.rateLimitWebhookFailures;
    const key = this.store.key('webhook-signature-failures', createHash('sha256').update(endpointToken).digest('base64url'));
    const [count, ttl] = await this.store.run(
      'webhook_signature_failures',
      (redis) => redis.eval(COUNT_FAILURE_SCRIPT, 1, key, windowSeconds) as Promise<[number, number]>,
      [0, 0],
    );
    const limited = count > limit;
    if (limited) {
      recordRateLimitRejection('webhook_signature_failures');
    }

    return { limited, retryAfterSeconds: Math.max(1, ttl), spike: count === spikeThreshold(limit) };
  }
}
