import { validationFailed } from '@app/common/errors/domain-error';
import { INSTANT_MESSAGE, INSTANT_WITH_OFFSET } from '@app/common/time/instant';
import { isISO8601 } from 'class-validator';

/** Parse an ISO 8601 time given to a CLI option; a missing option is undefined, an invalid one a validation error. */
export function parseTimeOption(option: string, value: string | undefined): Date | undefined {
  if (value === undefined) {
    return undefined;
  }

  if (!isISO8601(value, { strict: true }) || !INSTANT_WITH_OFFSET.test(value)) {
    throw validationFailed([{ field: option, message: `${INSTANT_MESSAGE} (got "${value}")` }]);
  }

  return new Date(value);
}
