import { DomainError, FieldError, notFound, validationFailed } from '@app/common/errors/domain-error';
import { QueryFailedError } from 'typeorm';

const UNIQUE_VIOLATION = '23505';

export function tenantNotFound(): DomainError {
  return notFound('tenant');
}

export function tokenNotFound(): DomainError {
  return notFound('token');
}

export function liveConnectionBlocksForbiddingLiveMode(): DomainError {
  return new DomainError(
    'invalid_state',
    'The tenant is connected to Stripe with live keys. Have the tenant switch to test keys in Settings → Billing (or disconnect Stripe), then forbid live mode.',
  );
}

export function alreadyExists(field: string, message: string, detail: string): DomainError {
  return new DomainError('already_exists', detail, { errors: [{ field, message }] });
}

/** Throws validation_failed when `errors` is not empty. Services check their own input, so the CLI gets the same errors as HTTP. */
export function assertValid(errors: FieldError[]): void {
  if (errors.length > 0) {
    throw validationFailed(errors);
  }
}

/** Returns one error for a wrong tenant, email or password alike, so none of them can be probed. */
export function invalidCredentials(): DomainError {
  return new DomainError('unauthenticated', 'The tenant, email or password is wrong.', {
    headers: { 'WWW-Authenticate': 'Bearer realm="billing"' },
  });
}

export function unauthenticated(detail: string): DomainError {
  return new DomainError('unauthenticated', detail, { headers: { 'WWW-Authenticate': 'Bearer realm="billing"' } });
}

export function forbidden(detail: string): DomainError {
  return new DomainError('forbidden', detail);
}

export function isUniqueViolation(error: unknown, constraint: string): boolean {
  if (!(error instanceof QueryFailedError)) {
    return false;
  }

  const driverError = error.driverError as { code?: string; constraint?: string };

  return driverError.code === UNIQUE_VIOLATION && driverError.constraint === constraint;
}
