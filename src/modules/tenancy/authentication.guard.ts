import { RequestContext } from '@app/common/context/request-context';
import { DomainError } from '@app/common/errors/domain-error';
import { PUBLIC_KEY, Principal, ROLES_KEY, Role } from '@app/common/roles/roles';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AuthService } from './auth.service';
import { SESSION_COOKIE } from './session-cookie';
import { forbidden, unauthenticated } from './tenancy.errors';

/** Methods a cookie-authenticated request may use without the CSRF header. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
const CSRF_HEADER = 'x-requested-with';
const CSRF_HEADER_VALUE = 'fetch';
const BEARER_PATTERN = /^Bearer\s+(\S+)\s*$/i;

/**
 * The global guard: every route needs a principal unless marked `@Public()`.
 * It rejects in the contract's order: 401 without valid credentials, then 403
 * (CSRF, then role). Guards run before pipes, so a 401 or 403 always wins over
 * a 400 from validation and over a 404 from the handler.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly context: RequestContext,
  ) {}

  async canActivate(execution: ExecutionContext): Promise<boolean> {
    const targets = [execution.getHandler(), execution.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) {
      return true;
    }

    // Only HTTP routes exist; anything else is refused rather than let through unchecked.
    if (execution.getType() !== 'http') {
      return false;
    }

    const request = execution.switchToHttp().getRequest<Request>();
    const principal = await this.authenticate(request);
    this.context.setPrincipal(principal);

    if (principal.via === 'session' && !SAFE_METHODS.has(request.method) && request.get(CSRF_HEADER) !== CSRF_HEADER_VALUE) {
      throw new DomainError('csrf_failed', 'Requests authenticated by the session cookie must send the header X-Requested-With: fetch.');
    }

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    const forbiddenReason = forbiddenDetail(principal.role, roles, isOpsRoute(request, execution));
    if (forbiddenReason !== null) {
      throw forbidden(forbiddenReason);
    }

    return true;
  }

  /** Authenticates by bearer token when an Authorization header is sent, else by the session cookie. */
  private async authenticate(request: Request): Promise<Principal> {
    const authorization = request.get('authorization');
    if (authorization !== undefined) {
      const match = BEARER_PATTERN.exec(authorization);
      if (!match) {
        throw unauthenticated('The Authorization header must be "Bearer <token>".');
      }

      const principal = await this.auth.authenticateToken(match[1]);
      if (!principal) {
        throw unauthenticated('The API token is unknown or revoked.');
      }

      return principal;
    }

    const cookies = request.cookies as Record<string, unknown> | undefined;
    const sessionId = cookies?.[SESSION_COOKIE];
    if (typeof sessionId === 'string' && sessionId.length > 0) {
      const principal = await this.auth.authenticateSession(sessionId);
      if (!principal) {
        throw unauthenticated('The session has expired or ended. Log in again.');
      }

      return principal;
    }

    throw unauthenticated('Authentication is required: send "Authorization: Bearer <token>" or log in.');
  }
}

/**
 * Returns the detail of the 403 that a role gets on a route, or null when the
 * role may use it. Operators use only /api/v1/ops routes and routes whose
 * @Roles names `operator`, such as /api/v1/auth/me. Tenant principals never
 * use ops routes. A route's @Roles, when present, must name the principal's role.
 */
export function forbiddenDetail(role: Role, routeRoles: Role[] | undefined, opsRoute: boolean): string | null {
  if (role === 'operator') {
    if (!opsRoute && !routeRoles?.includes('operator')) {
      return 'Platform operators may use only the /api/v1/ops routes.';
    }
  } else if (opsRoute) {
    return 'Only platform operators may use the /api/v1/ops routes.';
  }

  if (routeRoles && !routeRoles.includes(role)) {
    return `This route needs the role ${routeRoles.join(' or ')}; the caller has the role ${role}.`;
  }

  return null;
}

/**
 * Checks whether the route is an ops route, by the controller's declared path
 * and by the request path. Both are lower-cased because Express matches routes
 * case-insensitively.
 */
function isOpsRoute(request: Request, execution: ExecutionContext): boolean {
  const declared = Reflect.getMetadata(PATH_METADATA, execution.getClass()) as string | string[] | undefined;
  const paths = [...(Array.isArray(declared) ? declared : [declared ?? '']), request.path];

  return paths.some(isOpsPath);
}

/** Tell whether a path is under /api/v1/ops or /ops, with or without its leading slash. */
export function isOpsPath(path: string): boolean {
  const normalized = `/${path.toLowerCase().replace(/^\/+/, '')}`;

  return /^\/(api\/v1\/ops|ops)(\/|$)/.test(normalized);
}
