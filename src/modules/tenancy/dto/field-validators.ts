import { Transform } from 'class-transformer';
import { ValidateBy, ValidationOptions } from 'class-validator';
import { checkPasswordPolicy } from '../passwords';
import { checkSlug, normalizeTimeZone } from '../tenant-validation';

/** Trim surrounding whitespace from a string field; other values pass through for the validators to reject. */
export const Trim = () => Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value));

export function IsSlug(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isSlug',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && checkSlug(value).length === 0,
        defaultMessage: () => '$property must be 2 to 63 lower-case letters, digits or hyphens',
      },
    },
    options,
  );
}

export function IsIanaTimeZone(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIanaTimeZone',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && normalizeTimeZone(value) !== null,
        defaultMessage: () => '$property must be an IANA time zone name such as America/Chicago',
      },
    },
    options,
  );
}

export function MeetsPasswordPolicy(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'meetsPasswordPolicy',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && checkPasswordPolicy(value).length === 0,
        defaultMessage: (args) => `$property ${checkPasswordPolicy(String(args?.value ?? ''))[0]?.message ?? 'must be a string'}`,
      },
    },
    options,
  );
}
