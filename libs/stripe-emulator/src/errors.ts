import type Stripe from 'stripe';

/** The `error` member of Stripe's error responses, as the API version 2026-11-18 sends it. */
export interface StripeErrorBody {
  type: 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';
  code?: string;
  decline_code?: string;
  param?: string;
  message: string;
  payment_intent?: Stripe.PaymentIntent;
  payment_method?: Stripe.PaymentMethod;
  charge?: string;
  doc_url?: string;
}

export interface StripeApiErrorOptions {
  headers?: Record<string, string>;
  /**
   * Whether an idempotent retry replays this error. Stripe saves a result only once the
   * endpoint has started executing, so card declines are replayed while parameter
   * validation errors are not.
   */
  replayable?: boolean;
}

/** An error response in Stripe's wire format: `{ "error": { … } }` with its HTTP status. */
export class StripeApiError extends Error {
  readonly headers: Record<string, string>;
  readonly replayable: boolean;

  constructor(
    readonly statusCode: number,
    readonly body: StripeErrorBody,
    options: StripeApiErrorOptions = {},
  ) {
    super(body.message);
    this.name = 'StripeApiError';
    this.headers = options.headers ?? {};
    this.replayable = options.replayable ?? false;
  }
}

export function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

export function invalidRequest(
  message: string,
  details: { code?: string; param?: string; statusCode?: number; paymentIntent?: Stripe.PaymentIntent } = {},
): StripeApiError {
  return new StripeApiError(details.statusCode ?? 400, {
    type: 'invalid_request_error',
    code: details.code,
    doc_url: details.code ? docUrl(details.code) : undefined,
    param: details.param,
    message,
    payment_intent: details.paymentIntent,
  });
}

export function parameterUnknown(param: string): StripeApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, { code: 'parameter_unknown', param });
}

export function parameterMissing(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
}

/** Builds Stripe's 404, e.g. "No such payment_intent: 'pi_123'", with its hint when the other mode has the object. */
export function resourceMissing(
  label: string,
  id: string,
  param: string,
  existsInMode?: { requested: 'test' | 'live'; found: 'test' | 'live' },
): StripeApiError {
  let message = `No such ${label}: '${id}'`;
  if (existsInMode) {
    message +=
      `; a similar object exists in ${existsInMode.found} mode, ` +
      `but a ${existsInMode.requested} mode key was used to make this request.`;
  }
  return invalidRequest(message, { code: 'resource_missing', param, statusCode: 404 });
}

export function unrecognizedUrl(method: string, path: string): StripeApiError {
  return invalidRequest(
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    { statusCode: 404 },
  );
}

const KEY_PREFIX = /^(sk|rk|pk)_(test|live)_/;

/**
 * Masks a secret the way Stripe's error messages do: the key's prefix, one asterisk per
 * hidden character, and the last four characters. Keys of eight characters or fewer are
 * hidden completely.
 */
export function maskKey(key: string): string {
  const prefix = KEY_PREFIX.exec(key)?.[0] ?? '';
  const rest = key.slice(prefix.length);
  if (rest.length <= 8) {
    return prefix + '*'.repeat(rest.length);
  }
  return prefix + '*'.repeat(rest.length - 4) + rest.slice(-4);
}

export function missingApiKey(): StripeApiError {
  return invalidRequest(
    "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    { statusCode: 401 },
  );
}

export function invalidApiKey(key: string): StripeApiError {
  return invalidRequest(`Invalid API Key provided: ${maskKey(key)}`, { statusCode: 401 });
}

export function publishableKeyUsed(): StripeApiError {
  return invalidRequest(
    'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.',
    { statusCode: 401 },
  );
}

export function expiredApiKey(key: string): StripeApiError {
  return invalidRequest(`Expired API Key provided: ${maskKey(key)}`, {
    code: 'api_key_expired',
    statusCode: 401,
  });
}

export function permissionDenied(key: string, accountId: string, permission: string): StripeApiError {
  return invalidRequest(
    `The provided key '${maskKey(key)}' does not have the required permissions for this endpoint on account '${accountId}'. ` +
      `Having the '${permission}' permission would allow this request to continue.`,
    { statusCode: 403 },
  );
}

export function accountAccessDenied(key: string, accountId: string): StripeApiError {
  return invalidRequest(
    `The provided key '${maskKey(key)}' does not have access to account '${accountId}' (or that account does not exist). ` +
      'Application access may have been revoked.',
    { statusCode: 403 },
  );
}

export function idempotencyParametersMismatch(idempotencyKey: string): StripeApiError {
  return new StripeApiError(400, {
    type: 'idempotency_error',
    message:
      'Keys for idempotent requests can only be used with the same parameters they were first used with. ' +
      `Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
  });
}

export function idempotencyEndpointMismatch(idempotencyKey: string, first: string, now: string): StripeApiError {
  return new StripeApiError(400, {
    type: 'idempotency_error',
    message:
      `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${first}' vs '${now}'). ` +
      `Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
  });
}

export function internalServerError(): StripeApiError {
  return new StripeApiError(500, {
    type: 'api_error',
    message: "An unknown error occurred while processing your request. We've been notified and are looking into it.",
  });
}

export function rateLimited(): StripeApiError {
  return new StripeApiError(429, {
    type: 'invalid_request_error',
    code: 'rate_limit',
    doc_url: docUrl('rate_limit'),
    message:
      'Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.',
  });
}
