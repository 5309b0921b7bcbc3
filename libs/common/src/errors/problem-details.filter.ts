import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { QueryFailedError } from 'typeorm';
import { BodyReadError, describeBodyReadError, isBodyReadError } from './body-errors';
import { DomainError } from './domain-error';
import { ErrorCode } from './error-codes';
import { redactSecrets } from '../keys/stripe-keys';
import { PROBLEM_CONTENT_TYPE, ProblemDetails, problem, problemFromDomainError } from './problem-details';

/** PostgreSQL error classes that mean the database itself is away, not that the query was wrong. */
const CONNECTION_ERROR_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);
const NODE_CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);

/**
 * Turns every error that reaches the HTTP layer into problem details with a
 * stable code. Unknown errors become a 500 whose body says nothing of the cause;
 * the cause goes to the log only.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger(ProblemDetailsFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const { body, headers } = toProblemResponse(exception, this.logger);
    if (response.headersSent) {
      return;
    }

    for (const [name, value] of Object.entries(headers)) {
      response.setHeader(name, value);
    }
    // Details may quote what the client sent, so a secret in it is masked rather than echoed back.
    response.status(body.status).type(PROBLEM_CONTENT_TYPE).send(redactSecrets(JSON.stringify(body)));
  }
}

export function isDatabaseUnavailable(error: unknown): boolean {
  const candidate = error instanceof QueryFailedError ? (error.driverError as unknown) : error;
  if (typeof candidate !== 'object' || candidate === null) {
    return false;
  }

  const code = (candidate as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || NODE_CONNECTION_ERRORS.has(code))) {
    return true;
  }

  const message = String((candidate as { message?: unknown }).message ?? '');

  return /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(message);
}

/** Name and message only: a stack or driver detail may quote a query parameter. */
function describe(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }

  return { name: typeof error, message: String(error) };
}

/**
 * Build the problem details and extra headers for an error, logging the cause
 * of the ones the client must not see. Shared by the filter and the webhook
 * route served before Express.
 */
export function toProblemResponse(exception: unknown, logger: Logger): { body: ProblemDetails; headers: Record<string, string> } {
  if (exception instanceof DomainError) {
    return { body: problemFromDomainError(exception), headers: exception.headers ?? {} };
  }

  if (exception instanceof HttpException) {
    return { body: fromHttpException(exception), headers: {} };
  }

  if (isBodyReadError(exception)) {
    if (exception.type !== 'entity.too.large') {
      // Only the webhook raw parser gets here, because the JSON parser holds these until the guards ran.
      logger.warn({ bodyError: { type: exception.type, message: exception.message } }, 'Rejected a request body that could not be decoded');
    }

    return { body: fromBodyReadError(exception), headers: {} };
  }

  if (isDatabaseUnavailable(exception)) {
    logger.error({ err: describe(exception) }, 'Database unavailable while handling a request');

    return {
      body: problem('service_unavailable', 'The database is unavailable. Retry in a few seconds.'),
      headers: { 'Retry-After': '5' },
    };
  }

  logger.error({ err: describe(exception) }, 'Unhandled error while handling a request');

  return { body: problem('internal_error', 'An unexpected error occurred. It has been logged.'), headers: {} };
}

function fromHttpException(exception: HttpException): ProblemDetails {
  const status = exception.getStatus();
  const codeByStatus: Record<number, ErrorCode> = {
    [HttpStatus.BAD_REQUEST]: 'validation_failed',
    [HttpStatus.UNAUTHORIZED]: 'unauthenticated',
    [HttpStatus.FORBIDDEN]: 'forbidden',
    [HttpStatus.NOT_FOUND]: 'not_found',
    [HttpStatus.PAYLOAD_TOO_LARGE]: 'payload_too_large',
    [HttpStatus.TOO_MANY_REQUESTS]: 'rate_limited',
    [HttpStatus.SERVICE_UNAVAILABLE]: 'service_unavailable',
  };
  const code = codeByStatus[status] ?? 'internal_error';
  const detail = status === HttpStatus.NOT_FOUND ? 'No such resource.' : exception.message;

  return problem(code, detail);
}

function fromBodyReadError(error: BodyReadError): ProblemDetails {
  if (error.type === 'entity.too.large') {
    return problem('payload_too_large', `The request body is larger than the limit of ${error.limit ?? 'the server'} bytes.`);
  }

  const { detail, error: fieldError } = describeBodyReadError(error);

  return problem('validation_failed', detail, [fieldError]);
}
