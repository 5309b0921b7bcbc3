import { DomainError } from '@app/common/errors/domain-error';
import { TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { Inject, Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** Methods Bull Board's dashboard uses to read; every other method changes jobs. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Admits only platform operators logged in with a session to the Bull Board
 * dashboard at /ops/queues. It is plain Express middleware, which the global
 * auth guard does not cover, so it checks the session cookie through the
 * Tenancy facade itself; API tokens are not accepted. The dashboard's writes
 * (retry, clean, promote) must come from the service's own origin, since its
 * browser code cannot send the X-Requested-With header the API requires.
 */
@Injectable()
export class BullBoardAuthMiddleware implements NestMiddleware {
  private readonly logger = new Logger(BullBoardAuthMiddleware.name);

  constructor(@Inject(TENANCY_FACADE) private readonly tenancy: TenancyFacade) {}

  async use(request: Request, _response: Response, next: NextFunction): Promise<void> {
    const check = await this.tenancy.checkOperatorSession(request.cookies as Record<string, unknown> | undefined);
    if (check.status === 'none') {
      throw new DomainError('unauthenticated', 'Log in as a platform operator (POST /api/v1/auth/login without a tenant) to open the queue dashboard.');
    }
    if (check.status === 'not_operator') {
      throw new DomainError('forbidden', 'Only platform operators may open the queue dashboard.');
    }

    if (!SAFE_METHODS.has(request.method) && !isSameOrigin(request)) {
      throw new DomainError('csrf_failed', 'Changes through the queue dashboard must come from the dashboard page of this service (same Origin).');
    }

    if (!SAFE_METHODS.has(request.method)) {
      this.logger.log({ userId: check.userId, method: request.method, path: request.originalUrl.split('?')[0] }, 'Operator changed jobs through the queue dashboard');
    }

    next();
  }
}

/** Check the Origin header, or else the Referer, against the host the request was sent to. */
function isSameOrigin(request: Request): boolean {
  const source = request.get('origin') ?? request.get('referer');
  if (!source) {
    return false;
  }

  try {
    return new URL(source).host === request.get('host');
  } catch {
    return false;
  }
}
