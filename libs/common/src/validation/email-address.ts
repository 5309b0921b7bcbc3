import { ValidateBy, ValidationOptions, isEmail } from 'class-validator';
import { hasInvisibleCharacter } from './blank-text';

/** The message for a value that is not an email address, worded as for every field of the API. */
export const EMAIL_MESSAGE = 'must be an email address';

/**
 * Tells whether `text` is an email address without invisible characters.
 * class-validator's check lets U+200B or U+00AD through, so
 * `owner\u200b@acme.example` would look like `owner@acme.example` yet be another user.
 */
export function isEmailAddress(text: string): boolean {
  return isEmail(text) && !hasInvisibleCharacter(text);
}

/** Rejects a string that is not an email address (isEmailAddress) with EMAIL_MESSAGE. Other types pass to the type check. */
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
