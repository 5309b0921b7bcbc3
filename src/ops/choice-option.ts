import { validationFailed } from '@app/common/errors/domain-error';

/**
 * Checks a CLI option that takes one of a fixed set of values. A missing
 * option is undefined. Any other value is a validation error that lists the
 * allowed values and repeats the one given.
 */
export function parseChoiceOption<T extends string>(option: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) {
    return undefined;
  }

  const trimmed = value.trim();
  if (!(allowed as readonly string[]).includes(trimmed)) {
    throw validationFailed([{ field: option, message: `must be one of ${listWithOr(allowed)} (got "${value}")` }]);
  }

  return trimmed as T;
}

function listWithOr(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}
