import { RequestContext } from '@app/common/context/request-context';
import { DomainError } from '@app/common/errors/domain-error';
import { recordRateLimitRejection } from '@app/common/metrics/metrics';
import { PUBLIC_KEY } from '@app/common/roles/roles';
import { durationText } from '@app/common/time/seconds-text';
import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request } from 'express';
import { createHash } from 'node:crypto';
import { SESSION_COOKIE } from '../modules/tenancy/session-cookie';

export const API_THROTTLER = 'api';

/** Paths that no principal calls: Stripe's deliveries and the probes. Verified webhook deliveries are never limited. */
export const UNLIMITED_PATH = /^\/(webhooks|health|metrics)(\/|$)/i;

/**
 * RATE_LIMIT_API: requests per API token or session, whatever the route. Only
 * requests that passed authentication count, so it must run after the global
 * AuthenticationGuard (AppModule registers it later). A request with an
 * unknown or revoked token or an ended session therefore always gets 401, as
 * the contract's precedence puts 401 before everything, and never uses up
 * the limit of the credential it names. Requests to public routes (login,
 * the admin pages, the probes) are not counted; the login limits cover the
 * login route. The tracker is a digest of the credential the request carries.
 *
 * NOTE: failed authentications are not limited, so each one still costs the
 * token or session lookup, one indexed query by digest.
 */
@Injectable()
export class ApiRateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly context: RequestContext,
  ) {
    super(options, storage, reflector);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') {
      return true;
    }

    const request = context.switchToHttp().getRequest<Request>();
    if (UNLIMITED_PATH.test(request.path)) {
      return true;
    }

    if (this.context.principal !== undefined) {
      return false;
    }

    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [context.getHandler(), context.getClass()]);
    if (!isPublic) {
      // A guarded route without a principal means this guard ran before authentication, and would count bad credentials.
      throw new Error('ApiRateLimitGuard ran before AuthenticationGuard: register RateLimitsModule after TenancyModule.');
    }

    return true;
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
      `More than ${detail.limit} requests with this API token or session in ${durationText(Math.round(detail.ttl / 1000))}. Try again in ${durationText(retryAfterSeconds)}.`,
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
