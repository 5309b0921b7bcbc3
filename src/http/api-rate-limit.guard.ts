import { secondsText } from '@app/common/time/seconds-text';
import { DomainError } from '@app/common/errors/domain-error';
import { recordRateLimitRejection } from '@app/common/metrics/metrics';
import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Request } from 'express';
import { createHash } from 'node:crypto';
import { SESSION_COOKIE } from '../modules/tenancy/session-cookie';

export const API_THROTTLER = 'api';

/** Paths that no principal calls: Stripe's deliveries and the probes. Verified webhook deliveries are never limited. */
const UNLIMITED_PATH = /^\/(webhooks|health|metrics)(\/|$)/i;

/**
 * RATE_LIMIT_API: requests per API token or session, whatever the route. The
 * tracker is a digest of the credential the request carries, so the guard
 * needs no database lookup and runs in any order with the authentication
 * guard. A request without credentials (login, the probes) is not counted here;
 * the login limits cover the login route.
 */
@Injectable()
export class ApiRateLimitGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') {
      return true;
    }

    const request = context.switchToHttp().getRequest<Request>();

    return UNLIMITED_PATH.test(request.path) || credentialOf(request) === null;
  }

  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const credential = credentialOf(request as unknown as Request) ?? '';

    return createHash('sha256').update(credential).digest('base64url');
  }

  /** Builds one key per credential across all routes, because the default key counts each route apart. */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    recordRateLimitRejection('api');
    const retryAfterSeconds = Math.max(1, detail.timeToBlockExpire);

    throw new DomainError(
      'rate_limited',
      `More than ${detail.limit} requests with this API token or session in ${secondsText(Math.round(detail.ttl / 1000))}. Retry in ${secondsText(retryAfterSeconds)}.`,
      { headers: { 'Retry-After': String(retryAfterSeconds) } },
    );
  }
}

/** Returns the bearer token or the session cookie with its kind, or null when the request carries neither. */
function credentialOf(request: Request): string | null {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string' && authorization.length > 0) {
    return `bearer:${authorization}`;
  }

  const cookies = request.cookies as Record<string, unknown> | undefined;
  const session = cookies?.[SESSION_COOKIE];

  return typeof session === 'string' && session.length > 0 ? `session:${session}` : null;
}
