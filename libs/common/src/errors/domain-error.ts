import { ERROR_CATALOG, ErrorCode } from './error-codes';

export interface FieldError {
  field: string;
  message: string;
}

export interface DomainErrorOptions {
  /** Errors about particular submitted fields, named as the client sent them. */
  errors?: FieldError[];
  /** Extra members of the problem details body, such as `paymentId`. */
  extensions?: Record<string, unknown>;
  /** Response headers, such as `Retry-After`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * An error with a stable code from the HTTP contract. Services throw these and
 * never HTTP exceptions; one global filter turns them into problem details.
 * The message is the problem's `detail`, so it must never hold a secret.
 */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly errors?: FieldError[];
  readonly extensions?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, detail: string, options: DomainErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DomainError';
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.title = ERROR_CATALOG[code].title;
    this.errors = options.errors;
    this.extensions = options.extensions;
    this.headers = options.headers;
  }
}

/**
 * `stripe_keys_invalid` because this process cannot decrypt the stored key,
 * not because Stripe rejected it. The cause may be this process's own
 * APP_ENCRYPTION_KEY, so jobs retry it with backoff instead of failing for good.
 */
export class StoredKeyUndecryptableError extends DomainError {
  constructor(detail: string) {
    super('stripe_keys_invalid', detail);
    this.name = 'StoredKeyUndecryptableError';
  }
}

export function notFound(what = 'resource'): DomainError {
  return new DomainError('not_found', `No such ${what}.`);
}

export function validationFailed(errors: FieldError[], detail = 'The request has invalid fields.'): DomainError {
  return new DomainError('validation_failed', detail, { errors });
}
