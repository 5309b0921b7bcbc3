import { validationFailed } from '@app/common/errors/domain-error';
import { isISO8601 } from 'class-validator';

/** Parse an ISO 8601 time given to a CLI option; a missing option is undefined, an invalid one a validation error. */
export function parseTimeOption(option: string, value: string | undefined): Date | undefined {
  if (value === undefined) {
    return undefined;
  }

  if (!isISO8601(value, { strict: true })) {
    throw validationFailed([{ field: option, message: `must be an ISO 8601 time such as 2026-12-04T03:00:00Z (got "${value}")` }]);
  }

  return new Date(value);
}
