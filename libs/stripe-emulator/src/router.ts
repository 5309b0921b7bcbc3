import type { IncomingMessage, ServerResponse } from 'node:http';
import Stripe from 'stripe';
import { newRequestId } from './accounts';
import { matchRoute } from './api-routes';
import {
  accountAccessDenied,
  internalServerError,
  invalidRequest,
  rateLimited,
  StripeApiError,
  unrecognizedUrl,
} from './errors';
import type { FaultKind, FaultQueue } from './faults';
import { canonicalForm, decodeForm, type FormObject } from './form-decoding';
import { readBody, sendJson } from './http-io';
import { IdempotencyStore, MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency';
import type { ApiContext, EmulatorState } from './state';

export interface ApiRouterOptions {
  faults: FaultQueue;
  /** Time a `timeout` fault keeps a request open before dropping the connection. */
  faultTimeoutMs: number;
}

/** One `/v1` request as the emulator received it, for tests that count calls to Stripe. */
export interface ApiRequestRecord {
  method: string;
  path: string;
  /** The account of the request's key; null when the key was not accepted or a fault came first. */
  accountId: string | null;
  idempotencyKey: string | null;
  fault: FaultKind | null;
  receivedAt: number;
}

/** The request log keeps this many records, dropping the oldest. */
const MAX_REQUEST_RECORDS = 10_000;

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Serves `/v1/…` the way Stripe does: injected faults first, then authentication, routing,
 * restricted-key permissions, parameter decoding and idempotent replay around the handler.
 */
export class ApiRouter {
  private readonly idempotency = new IdempotencyStore();
  /** Every `/v1` request received, oldest first. */
  readonly requests: ApiRequestRecord[] = [];

  constructor(
    private readonly state: EmulatorState,
    private readonly options: ApiRouterOptions,
  ) {}

  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const requestId = newRequestId();
    const method = request.method ?? 'GET';
    const headers: Record<string, string> = {
      'Request-Id': requestId,
      'Stripe-Version': headerValue(request, 'stripe-version') ?? Stripe.API_VERSION,
    };
    const fault = this.options.faults.take(this.state.accounts.accountIdOf(headerValue(request, 'authorization')));
    const record = this.record(request, method, url.pathname, fault);
    if (fault === 'timeout') {
      this.hold(request, response, method, url.pathname);
      return;
    }

    const idempotencyKey = method === 'POST' ? (headerValue(request, 'idempotency-key') ?? null) : null;
    if (idempotencyKey !== null) {
      headers['Idempotency-Key'] = idempotencyKey;
    }
    let saveIdempotent: ((statusCode: number, body: unknown) => void) | undefined;
    try {
      const body = await readBody(request);
      if (fault === '500') {
        throw internalServerError();
      }
      if (fault === '429') {
        throw rateLimited();
      }

      const key = this.state.accounts.authenticate(headerValue(request, 'authorization'));
      record.accountId = key.accountId;
      const account = this.state.accounts.getAccount(key.accountId);
      const match = matchRouteSafely(method, url.pathname);
      if (!account || !match) {
        throw unrecognizedUrl(method, url.pathname);
      }
      const connectedAccount = headerValue(request, 'stripe-account');
      if (connectedAccount !== undefined && connectedAccount !== account.id) {
        throw accountAccessDenied(key.secret, connectedAccount);
      }
      this.state.accounts.authorize(key, match.route.resource, method === 'GET' ? 'read' : 'write');

      const input = mergeInputs(decodeForm(url.search.slice(1)), decodeForm(body));
      const scope = { accountId: account.id, livemode: key.mode === 'live' };
      if (idempotencyKey !== null) {
        if (idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
          throw invalidRequest(
            `Invalid idempotency key: keys can be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters long.`,
          );
        }
        const scopeKey = `${scope.accountId}:${key.mode}`;
        const endpoint = `${method} ${url.pathname}`;
        const fingerprint = canonicalForm(input);
        const stored = this.idempotency.lookup(scopeKey, idempotencyKey, endpoint, fingerprint);
        if (stored && fault === 'lost_response') {
          this.hold(request, response, method, url.pathname);
          return;
        }
        if (stored) {
          sendJson(response, stored.statusCode, stored.body, {
            ...headers,
            'Idempotent-Replayed': 'true',
            'Original-Request': stored.requestId,
          });
          return;
        }
        saveIdempotent = (statusCode, responseBody) =>
          this.idempotency.save(scopeKey, idempotencyKey, endpoint, fingerprint, {
            statusCode,
            body: responseBody,
            requestId,
          });
      }

      const ctx: ApiContext = {
        state: this.state,
        scope,
        account,
        key,
        requestId,
        idempotencyKey,
        eventRequest: { id: requestId, idempotency_key: idempotencyKey },
      };
      const result = match.route.handler(ctx, input, match.id);
      saveIdempotent?.(200, result);
      if (fault === 'lost_response') {
        this.hold(request, response, method, url.pathname);
        return;
      }
      sendJson(response, 200, result, headers);
    } catch (error) {
      if (fault === 'lost_response') {
        if (error instanceof StripeApiError && error.replayable) {
          saveIdempotent?.(error.statusCode, { error: error.body });
        }
        this.hold(request, response, method, url.pathname);
        return;
      }
      this.sendError(response, error, headers, saveIdempotent, `${method} ${url.pathname}`);
    }
  }

  private record(request: IncomingMessage, method: string, path: string, fault: FaultKind | undefined): ApiRequestRecord {
    const record: ApiRequestRecord = {
      method,
      path,
      accountId: null,
      idempotencyKey: headerValue(request, 'idempotency-key') ?? null,
      fault: fault ?? null,
      receivedAt: Date.now(),
    };
    this.requests.push(record);
    if (this.requests.length > MAX_REQUEST_RECORDS) {
      this.requests.shift();
    }
    return record;
  }

  private sendError(
    response: ServerResponse,
    error: unknown,
    headers: Record<string, string>,
    saveIdempotent: ((statusCode: number, body: unknown) => void) | undefined,
    endpoint: string,
  ): void {
    if (error instanceof StripeApiError) {
      const body = { error: error.body };
      if (error.replayable) {
        saveIdempotent?.(error.statusCode, body);
      }
      sendJson(response, error.statusCode, body, { ...headers, ...error.headers });
      return;
    }
    this.state.logger.error(
      `Unexpected error serving ${endpoint}: ${error instanceof Error ? error.stack : String(error)}`,
    );
    sendJson(response, 500, { error: internalServerError().body }, headers);
  }

  /** Keeps a request open without responding, then drops the connection, like a server that hangs. */
  private hold(request: IncomingMessage, response: ServerResponse, method: string, path: string): void {
    this.state.logger.warn(`Injected fault: holding ${method} ${path} for ${this.options.faultTimeoutMs} ms`);
    request.resume();
    this.state.timers.schedule(this.options.faultTimeoutMs, () => {
      response.socket?.destroy();
    });
  }
}

function matchRouteSafely(method: string, path: string): ReturnType<typeof matchRoute> {
  try {
    return matchRoute(method, path);
  } catch {
    // A malformed percent-encoding in the id segment: no route matches it.
    return undefined;
  }
}

/** Merges query parameters with body parameters. The body wins on conflicts. */
function mergeInputs(query: FormObject, body: FormObject): FormObject {
  return { ...query, ...body };
}
