import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor, PipeTransform, ValidationPipe } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { Observable, catchError, from, mergeMap, of, throwError } from 'rxjs';
import { RequestContext } from '../context/request-context';
import { DomainError } from '../errors/domain-error';
import { PROBLEM_CONTENT_TYPE, problemFromDomainError } from '../errors/problem-details';
import { durationText, secondsText } from '../time/seconds-text';
import { createValidationPipe } from '../validation/validation.pipe';
import { requestBodyHash } from './canonical-json';
import { parseIdempotencyKey } from './idempotency-key-header';
import {
  ClaimedKey,
  DEFAULT_IDEMPOTENCY_LEASE_SECONDS,
  IDEMPOTENCY_IN_USE_RETRY_AFTER_SECONDS,
  IdempotencyCheck,
  IdempotencyClaimLostError,
  IdempotencyScope,
  IdempotencyService,
} from './idempotency.service';

export const IDEMPOTENT_OPTIONS = 'billing:idempotent';

export interface IdempotentOptions {
  /** Seconds a running request keeps its key; see DEFAULT_IDEMPOTENCY_LEASE_SECONDS. */
  leaseSeconds?: number;
  /**
   * Leaves the claim to the handler, which must call
   * `IdempotencyService.claimWithin` in the transaction of its first write
   * and before any call to another system, so the claim commits with that
   * write instead of in a commit of its own. The handler must not write or
   * call out before it: a request that ends without claiming stores nothing.
   */
  claimInHandler?: boolean;
}

/** Response header on a replayed response, as Stripe sends it. */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

interface RouteArgument {
  index: number;
  data?: string;
}

/**
 * Applies the Idempotency-Key header to a route marked `@Idempotent()`. It
 * runs after the guards, so 401 and 403 come first, and before the pipes, so
 * it compares the body as the client sent it. Because the contract ranks 400
 * above the 409s, a request about to get `idempotency_key_reused` or
 * `idempotency_key_in_use` is validated first.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly logger = new Logger(IdempotencyInterceptor.name);
  private readonly validationPipe: ValidationPipe = createValidationPipe();

  constructor(
    private readonly reflector: Reflector,
    private readonly idempotency: IdempotencyService,
    private readonly context: RequestContext,
  ) {}

  async intercept(executionContext: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = executionContext.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const key = parseIdempotencyKey(request.headersDistinct?.['idempotency-key'] ?? request.headers['idempotency-key']);
    if (key === null) {
      return next.handle();
    }

    const options = this.reflector.get<IdempotentOptions | undefined>(IDEMPOTENT_OPTIONS, executionContext.getHandler()) ?? {};
    const scope = { tenantId: this.context.requireTenantId(), method: request.method, path: `${request.baseUrl}${request.path}`, key };
    const requestHash = requestBodyHash(request.body);
    const leaseSeconds = options.leaseSeconds ?? DEFAULT_IDEMPOTENCY_LEASE_SECONDS;
    if (options.claimInHandler) {
      return this.interceptWithClaimInHandler(executionContext, next, { scope, requestHash, leaseSeconds, status: response.statusCode });
    }

    const claim = await this.idempotency.claim(scope, requestHash, leaseSeconds);
    if (claim.kind !== 'claimed') {
      return this.answerWithoutRunning(executionContext, claim);
    }

    this.idempotency.activateClaim(claim, response.statusCode);

    return next.handle().pipe(
      mergeMap((body: unknown) => from(this.finish(claim, response.statusCode, body, undefined)).pipe(mergeMap(() => of(body)))),
      catchError((error: unknown) => from(this.finishWithError(claim, error)).pipe(mergeMap(() => throwError(() => error)))),
    );
  }

  /**
   * Runs a route whose handler claims the key itself (`claimInHandler`). The
   * key row is not read first, because on the common path (a new key) the
   * claim finds it free and the read would cost a round trip for nothing. A
   * request that ends without a claim, because the key was taken or because
   * the handler failed before claiming, reads the row then. A stored response
   * is replayed and a key in use or reused gets its 409, as if the row had been
   * read before the handler ran.
   */
  private interceptWithClaimInHandler(
    executionContext: ExecutionContext,
    next: CallHandler,
    deferred: { scope: IdempotencyScope; requestHash: string; leaseSeconds: number; status: number },
  ): Observable<unknown> {
    this.idempotency.defer(deferred);
    const response = executionContext.switchToHttp().getResponse<Response>();

    return next.handle().pipe(
      mergeMap((body: unknown) => from(this.finishClaimedInHandler(response.statusCode, body)).pipe(mergeMap(() => of(body)))),
      catchError((error: unknown) => {
        const claim = this.idempotency.activeClaim();
        if (claim) {
          return from(this.finishWithError(claim, error)).pipe(mergeMap(() => throwError(() => error)));
        }

        return from(this.answerWithoutClaim(executionContext, deferred.scope, deferred.requestHash, error)).pipe(mergeMap((answer) => answer));
      }),
    );
  }

  private async finishClaimedInHandler(status: number, body: unknown): Promise<void> {
    const claim = this.idempotency.activeClaim();
    if (!claim) {
      this.logger.error({ status }, 'Handler of an idempotent route returned without claiming its Idempotency-Key; nothing was stored');

      return;
    }
    if (this.idempotency.storedWithin(toJson(body))) {
      this.logger.debug({ idempotencyKeyId: claim.key.id, attempt: claim.key.attempt, status }, 'Idempotency key stored with the work');

      return;
    }

    await this.finish(claim, status, body, undefined);
  }

  /**
   * Responds to a request that failed without claiming its key, from the key's
   * row: with the stored response, or 409 when the key is in use or was used
   * with another body. A free key leaves the handler's error as the response.
   */
  private async answerWithoutClaim(
    executionContext: ExecutionContext,
    scope: IdempotencyScope,
    requestHash: string,
    error: unknown,
  ): Promise<Observable<unknown>> {
    let checked: IdempotencyCheck;
    try {
      checked = await this.idempotency.check(scope, requestHash);
    } catch (checkError) {
      this.logger.error(
        { path: scope.path, err: checkError instanceof Error ? { name: checkError.name, message: checkError.message } : String(checkError) },
        'Could not read the Idempotency-Key after the handler failed without claiming it; the handler error is returned',
      );

      return throwError(() => error);
    }

    if (checked.kind !== 'claimable') {
      return this.answerWithoutRunning(executionContext, checked);
    }
    if (error instanceof IdempotencyClaimLostError) {
      // The claim was lost, and the key is free again: the other request released it a moment ago.
      return this.answerWithoutRunning(executionContext, { kind: 'in_use' });
    }

    return throwError(() => error);
  }

  /** Replays the stored response, or rejects with `idempotency_key_reused` or `idempotency_key_in_use` after validating the request. */
  private async answerWithoutRunning(
    executionContext: ExecutionContext,
    outcome: Exclude<IdempotencyCheck, { kind: 'claimable' }>,
  ): Promise<Observable<unknown>> {
    const http = executionContext.switchToHttp();
    if (outcome.kind === 'reused' || outcome.kind === 'in_use') {
      await this.validateArguments(executionContext, http.getRequest<Request>());
      throw outcome.kind === 'reused' ? keyReused() : keyInUse(outcome.leaseSecondsLeft);
    }

    const response = http.getResponse<Response>();
    response.status(outcome.status);
    response.setHeader(IDEMPOTENT_REPLAYED_HEADER, 'true');
    if (outcome.status >= 400) {
      response.type(PROBLEM_CONTENT_TYPE);
    }

    return of(outcome.body);
  }

  private async finishWithError(claim: ClaimedKey, error: unknown): Promise<void> {
    if (error instanceof DomainError) {
      await this.finish(claim, error.status, problemFromDomainError(error), error.code);

      return;
    }

    // Anything that is not a domain error ends as a 4xx or 5xx that is never stored.
    await this.finish(claim, 500, undefined, undefined);
  }

  /**
   * Stores or releases the key. A failure here is logged and does not change
   * the response: the key stays running until its lease ends, and a retry
   * after that finds the work by the key's id.
   */
  private async finish(claim: ClaimedKey, status: number, body: unknown, code: string | undefined): Promise<void> {
    try {
      const outcome = await this.idempotency.complete(claim, status, toJson(body), code);
      this.logger.debug({ idempotencyKeyId: claim.key.id, attempt: claim.key.attempt, status, outcome }, 'Idempotency key finished');
    } catch (error) {
      this.logger.error(
        { idempotencyKeyId: claim.key.id, status, err: error instanceof Error ? { name: error.name, message: error.message } : String(error) },
        'Could not store the outcome of an idempotent request; the key stays in use until its lease ends',
      );
    }
  }

  /** Runs the validation pipe over the route's body, query and params, as Nest would after this interceptor. */
  private async validateArguments(executionContext: ExecutionContext, request: Request): Promise<void> {
    const controller = executionContext.getClass();
    const methodName = executionContext.getHandler().name;
    const argumentsMetadata: Record<string, RouteArgument> = Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, methodName) ?? {};
    const parameterTypes: unknown[] = Reflect.getMetadata('design:paramtypes', controller.prototype, methodName) ?? [];

    for (const [metadataKey, argument] of Object.entries(argumentsMetadata)) {
      const source = argumentSource(Number(metadataKey.split(':')[0]), request);
      if (source === null) {
        continue;
      }

      const value = argument.data ? (source.value as Record<string, unknown> | undefined)?.[argument.data] : source.value;
      await (this.validationPipe as PipeTransform).transform(value, {
        type: source.type,
        metatype: parameterTypes[argument.index] as never,
        data: argument.data,
      });
    }
  }
}

function argumentSource(type: number, request: Request): { type: 'body' | 'query' | 'param'; value: unknown } | null {
  switch (type) {
    case RouteParamtypes.BODY:
      return { type: 'body', value: request.body };
    case RouteParamtypes.QUERY:
      return { type: 'query', value: request.query };
    case RouteParamtypes.PARAM:
      return { type: 'param', value: request.params };
    default:
      return null;
  }
}

/** Converts a response body to what the client receives: dates as ISO strings, undefined members dropped. */
function toJson(body: unknown): unknown {
  return body === undefined ? undefined : JSON.parse(JSON.stringify(body));
}

function keyReused(): DomainError {
  return new DomainError(
    'idempotency_key_reused',
    'This Idempotency-Key was already used with a different request body. Use a new key for a different request.',
  );
}

/**
 * Builds the 409 for a key that another request has claimed. A request that crashed keeps
 * the key until its lease ends, up to minutes later, so the detail names that
 * bound for a client that would otherwise give up after a few retries.
 */
function keyInUse(leaseSecondsLeft: number | undefined): DomainError {
  const retryAfter = Math.max(1, Math.min(IDEMPOTENCY_IN_USE_RETRY_AFTER_SECONDS, leaseSecondsLeft ?? IDEMPOTENCY_IN_USE_RETRY_AFTER_SECONDS));
  const stalled =
    leaseSecondsLeft === undefined ? '' : ` If that request stopped before it finished, the key is free again within ${durationText(Math.max(1, leaseSecondsLeft))}.`;

  return new DomainError(
    'idempotency_key_in_use',
    `A request with this Idempotency-Key is still running. Retry after ${secondsText(retryAfter)}.${stalled}`,
    { headers: { 'Retry-After': String(retryAfter) } },
  );
}
