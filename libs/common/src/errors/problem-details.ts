import { ERROR_CATALOG, ErrorCode } from './error-codes';
import { DomainError, FieldError } from './domain-error';

/** RFC 9457 problem details as the contract shapes them. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problemFromDomainError(error: DomainError): ProblemDetails {
  const body: ProblemDetails = {
    ...(error.extensions ?? {}),
    type: 'about:blank',
    title: error.title,
    status: error.status,
    code: error.code,
    detail: error.message,
  };
  if (error.errors && error.errors.length > 0) {
    body.errors = error.errors;
  }

  return body;
}

export function problem(code: ErrorCode, detail: string, errors?: FieldError[]): ProblemDetails {
  return problemFromDomainError(new DomainError(code, detail, { errors }));
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CATALOG[code].status;
}
