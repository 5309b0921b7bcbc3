import { DomainError } from '@app/common/errors/domain-error';
import { Clock } from '@app/common/time/clock';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { LoginFailuresRepository } from './login-failures.repository';

/**
 * RATE_LIMIT_LOGIN: at most `limit` failed logins per account within the
 * window. The account key is built from what the client sent, so an unknown
 * account is limited exactly like a known one and the limit reveals nothing.
 * A successful login clears the account's failures.
 */
@Injectable()
export class LoginRateLimiter {
  private readonly logger = new Logger(LoginRateLimiter.name);

  constructor(
    private readonly failures: LoginFailuresRepository,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Throws rate_limited, with Retry-After in seconds, while the account has used up its failures. */
  async assertAllowed(accountKey: string): Promise<void> {
    const now = this.clock.now();
    const { limit, windowSeconds } = this.config.rateLimitLogin;
    const recent = await this.failures.countRecent(accountKey, this.windowStart(now));
    if (recent.count < limit || !recent.oldest) {
      return;
    }

    const retryAfterSeconds = Math.max(1, Math.ceil((recent.oldest.getTime() + windowSeconds * 1000 - now.getTime()) / 1000));
    this.logger.warn({ failures: recent.count, retryAfterSeconds }, 'Login rejected: too many failed logins for this account');

    throw new DomainError('rate_limited', `Too many failed logins for this account. Try again in ${retryAfterSeconds} seconds.`, {
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }

  async recordFailure(accountKey: string): Promise<void> {
    const now = this.clock.now();
    await this.failures.record(accountKey, now, this.windowStart(now));
  }

  clear(accountKey: string): Promise<void> {
    return this.failures.clear(accountKey);
  }

  private windowStart(now: Date): Date {
    return new Date(now.getTime() - this.config.rateLimitLogin.windowSeconds * 1000);
  }
}
