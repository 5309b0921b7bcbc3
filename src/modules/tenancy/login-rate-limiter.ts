import { durationText } from '@app/common/time/seconds-text';
import { DomainError } from '@app/common/errors/domain-error';
import { RateLimitName, recordRateLimitRejection } from '@app/common/metrics/metrics';
import { RateLimitStore } from '@app/common/rate-limits/rate-limit-store';
import { Clock } from '@app/common/time/clock';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { APP_CONFIG, AppConfig, RateLimit } from '../../config/app-config';

/** Failures below this many in a window never delay the next attempt, so a few typos cost nothing. */
const MIN_FREE_FAILURES = 3;

/** Reads the failure count, the last failure (epoch ms) and the milliseconds left in the window of each key. */
const READ_SCRIPT = `
local result = {}
for i, key in ipairs(KEYS) do
  local fields = redis.call('HMGET', key, 'failures', 'last')
  table.insert(result, tonumber(fields[1]) or 0)
  table.insert(result, tonumber(fields[2]) or 0)
  table.insert(result, redis.call('PTTL', key))
end
return result`;

/** Counts one failure on every key; a key's window starts at its first failure. ARGV: now (epoch ms), then one window (ms) a key. */
const RECORD_SCRIPT = `
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'failures', 1)
  redis.call('HSET', key, 'last', ARGV[1])
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, ARGV[i + 1])
  end
end
return 1`;

export interface FailureWindow {
  failures: number;
  /** Epoch milliseconds of the last failure. */
  lastFailureAt: number;
  /** Milliseconds until the window ends and the count starts again. */
  windowLeftMs: number;
}

/**
 * Computes the milliseconds the next attempt must wait. From max(3, limit / 2)
 * failures on, each failure doubles the wait after it: 1 s, 2 s, 4 s, and so on,
 * at most the window. At `limit` failures every attempt waits for the window to end.
 */
export function loginWaitMs(window: FailureWindow, limit: RateLimit, now: number): number {
  if (window.failures === 0 || window.windowLeftMs <= 0) {
    return 0;
  }

  if (window.failures >= limit.limit) {
    return window.windowLeftMs;
  }

  const threshold = Math.max(MIN_FREE_FAILURES, Math.ceil(limit.limit / 2));
  if (window.failures < threshold) {
    return 0;
  }

  const delayMs = Math.min(2 ** (window.failures - threshold) * 1000, limit.windowSeconds * 1000);

  return Math.max(0, Math.min(window.lastFailureAt + delayMs - now, window.windowLeftMs));
}

interface LoginKey {
  name: RateLimitName;
  key: string;
  limit: RateLimit;
  message: string;
}

/**
 * Failed-login limits, counted in Redis so every api process shares them. One
 * limit is per account (RATE_LIMIT_LOGIN). The account is the tenant slug and
 * email as sent, so an unknown account is limited exactly like a known one and
 * the limit reveals nothing. The other is per client IP address
 * (RATE_LIMIT_LOGIN_IP). Both delay attempts more and more before the hard
 * limit. A successful login clears the account's failures but not the
 * address's. Without Redis, logins are not limited.
 */
@Injectable()
export class LoginRateLimiter {
  private readonly logger = new Logger(LoginRateLimiter.name);

  constructor(
    private readonly store: RateLimitStore,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Throws rate_limited, with Retry-After in seconds, while the account or the address must wait. */
  async assertAllowed(accountKey: string, clientIp: string): Promise<void> {
    const keys = this.keys(accountKey, clientIp);
    const now = this.clock.now().getTime();
    const raw = await this.store.run('login_account', (redis) => redis.eval(READ_SCRIPT, keys.length, ...keys.map((entry) => entry.key)) as Promise<number[]>, []);

    for (const [index, entry] of keys.entries()) {
      const window: FailureWindow = { failures: raw[index * 3] ?? 0, lastFailureAt: raw[index * 3 + 1] ?? 0, windowLeftMs: raw[index * 3 + 2] ?? 0 };
      const waitMs = loginWaitMs(window, entry.limit, now);
      if (waitMs > 0) {
        const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
        recordRateLimitRejection(entry.name);
        this.logger.warn({ limit: entry.name, failures: window.failures, retryAfterSeconds }, 'Login rejected: too many failed logins');

        throw new DomainError('rate_limited', `${entry.message} Try again in ${durationText(retryAfterSeconds)}.`, {
          headers: { 'Retry-After': String(retryAfterSeconds) },
        });
      }
    }
  }

  async recordFailure(accountKey: string, clientIp: string): Promise<void> {
    const keys = this.keys(accountKey, clientIp);
    const now = this.clock.now().getTime();
    const windows = keys.map((entry) => entry.limit.windowSeconds * 1000);
    await this.store.run('login_account', (redis) => redis.eval(RECORD_SCRIPT, keys.length, ...keys.map((entry) => entry.key), now, ...windows), null);
  }

  async clear(accountKey: string): Promise<void> {
    await this.store.run('login_account', (redis) => redis.del(this.accountKey(accountKey)), 0);
  }

  private keys(accountKey: string, clientIp: string): LoginKey[] {
    return [
      { name: 'login_account', key: this.accountKey(accountKey), limit: this.config.rateLimitLogin, message: 'Too many failed logins for this account.' },
      { name: 'login_ip', key: this.store.groupedKey('login', 'ip', digest(clientIp)), limit: this.config.rateLimitLoginIp, message: 'Too many failed logins from this address.' },
    ];
  }

  /** Builds the account's key, in the same group as the address key because one script reads or updates both. */
  private accountKey(accountKey: string): string {
    return this.store.groupedKey('login', 'account', digest(accountKey));
  }
}

/** Keys carry digests, so Redis never stores an email address or an IP address in the clear. */
function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
