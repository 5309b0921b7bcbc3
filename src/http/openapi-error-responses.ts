import { RETRY_AFTER_HEADER, problemResponse } from '@app/common/errors/problem-details.response';
import { Role, TENANT_ROLES } from '@app/common/roles/roles';
import type { OpenAPIObject, OperationObject, PathItemObject, ResponseObject } from '@nestjs/swagger';
import { SAFE_METHODS, forbiddenDetail, isOpsPath } from '../modules/tenancy/authentication.guard';
import { UNLIMITED_PATH } from './api-rate-limit.guard';

/** Route metadata that decides the error responses but does not appear in the OpenAPI operation. */
export interface RouteAccess {
  /** Marked `@Public()`, so the authentication guard and the API rate limit let it through. */
  isPublic: boolean;
  /** The route's `@Roles`, when it has any. */
  roles: Role[] | undefined;
  /** Has a `@Body()` parameter, also one that EmptyBodyPipe only checks for being empty. */
  takesBody: boolean;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const ALL_ROLES: Role[] = [...TENANT_ROLES, 'operator'];

const VALIDATION_FAILED = problemResponse('`validation_failed`: the body, query or a header is invalid; `errors` names each field at fault');
const UNAUTHENTICATED = problemResponse('`unauthenticated`: no credentials, an unknown or revoked API token, or an ended or expired session', {
  'WWW-Authenticate': { description: 'Bearer realm="billing"', schema: { type: 'string' } },
});
const RATE_LIMITED = problemResponse(
  '`rate_limited`: more requests with this API token or session than RATE_LIMIT_API allows; `Retry-After` says when to retry',
  RETRY_AFTER_HEADER,
);

/**
 * Add the error responses that the guards, the validation and the body checks
 * produce, so that no operation has to declare them: 400 where the operation
 * takes input, and 401, 403 and 429 where it needs authentication. A status an
 * operation already declares is kept.
 */
export function addErrorResponses(document: OpenAPIObject, routes: ReadonlyMap<string, RouteAccess>): void {
  for (const { path, method, operation, route } of routedOperations(document, routes)) {
    addOperationErrors(operation, method, path, route);
  }
}

/**
 * Set every security scheme of the document as an alternative on each
 * operation that needs authentication, because the guard accepts a bearer
 * token and a session cookie on every such route.
 */
export function listCredentials(document: OpenAPIObject, routes: ReadonlyMap<string, RouteAccess>): void {
  const alternatives = Object.keys(document.components?.securitySchemes ?? {}).map((scheme) => ({ [scheme]: [] }));
  for (const { operation, route } of routedOperations(document, routes)) {
    if (!route.isPublic) {
      operation.security = alternatives;
    }
  }
}

/** Yields each operation of the document with its route, which is found by operationId. */
function* routedOperations(
  document: OpenAPIObject,
  routes: ReadonlyMap<string, RouteAccess>,
): Generator<{ path: string; method: string; operation: OperationObject; route: RouteAccess }> {
  for (const [path, pathItem] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = (pathItem as PathItemObject)[method];
      if (operation === undefined) {
        continue;
      }

      const route = routes.get(operation.operationId ?? '');
      if (route === undefined) {
        // Only a change to how operationIds are built gets here, and it fails every start of the api role.
        throw new Error(`The OpenAPI operation ${method.toUpperCase()} ${path} has the operationId ${operation.operationId}, which names no controller method. Keep operationIds as <Controller>_<method>.`);
      }

      yield { path, method, operation, route };
    }
  }
}

function addOperationErrors(operation: OperationObject, method: string, path: string, route: RouteAccess): void {
  describeDeclaredErrors(operation, path);
  const takesInput = (operation.parameters?.length ?? 0) > 0 || operation.requestBody !== undefined || route.takesBody;
  if (takesInput) {
    addIfMissing(operation, 400, VALIDATION_FAILED);
  }

  if (route.isPublic) {
    return;
  }

  addIfMissing(operation, 401, UNAUTHENTICATED);

  const forbidden = forbiddenDescription(method, path, route.roles);
  if (forbidden !== null) {
    addIfMissing(operation, 403, problemResponse(forbidden));
  }

  if (!UNLIMITED_PATH.test(path)) {
    addIfMissing(operation, 429, RATE_LIMITED);
  }
}

/**
 * Describe the 403 responses of an authenticated route, or return null when it
 * has none, because a GET that every role may use never returns 403.
 */
function forbiddenDescription(method: string, path: string, roles: Role[] | undefined): string | null {
  const reasons: string[] = [];
  if (ALL_ROLES.some((role) => forbiddenDetail(role, roles, isOpsPath(path)) !== null)) {
    reasons.push("`forbidden`: the caller's role may not use this route.");
  }
  if (!SAFE_METHODS.has(method.toUpperCase())) {
    reasons.push('`csrf_failed`: the request is authenticated by the session cookie and lacks the header `X-Requested-With: fetch`.');
  }

  return reasons.length === 0 ? null : reasons.join(' ');
}

/**
 * Give each error a route declares with a description only (404, 409, 402, 502…) the problem
 * details body the filter sends, and a declared 429 its Retry-After header. The health routes'
 * 503 is Terminus' own body, so they are left as they are.
 */
function describeDeclaredErrors(operation: OperationObject, path: string): void {
  if (path.startsWith('/health')) {
    return;
  }

  for (const [status, response] of Object.entries(operation.responses)) {
    if (response === undefined || Number(status) < 400 || '$ref' in response || response.content !== undefined) {
      continue;
    }
    const headers = Number(status) === 429 ? { ...RETRY_AFTER_HEADER, ...response.headers } : response.headers;
    operation.responses[status] = problemResponse(response.description, headers);
  }
}

function addIfMissing(operation: OperationObject, status: number, response: ResponseObject): void {
  if (operation.responses[status] === undefined) {
    operation.responses[status] = response;
  }
}
