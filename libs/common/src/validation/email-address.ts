import { ValidateBy, ValidationOptions, isEmail } from 'class-validator';
import { hasInvisibleCharacter } from './blank-text';

/** The message for a value that is not an email address, worded as for every field of the API. */
export const EMAIL_MESSAGE = 'must be an email address';

/**
 * Tells whether `text` is an email address without invisible characters.
 * class-validator's check lets a zero-width space or a soft hyphen through,
 * and `owner\u200b@acme.example` would then look like `owner@acme.example`
 * in every list while being another user.
 */
export function isEmailAddress(text: string): boolean {
  return isEmail(text) && !hasInvisibleCharacter(text);
}

/** Rejects a string that is not an email address (isEmailAddress) with EMAIL_MESSAGE; other types pass to the type check. */
export function IsEmailAddress(validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isEmailAddress',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || isEmailAddress(value),
        defaultMessage: () => EMAIL_MESSAGE,
      },
    },
    validationOptions,
  );
}
