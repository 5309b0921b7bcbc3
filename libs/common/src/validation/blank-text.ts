import { ValidateBy, ValidationOptions } from 'class-validator';

/** The message for a text field without a visible character, worded as for every field of the API. */
export const BLANK_MESSAGE = 'must not be blank';

/**
 * Characters that show no glyph. They are white space (Unicode's White_Space property), control and
 * format characters (Cc and Cf, such as U+0001 and U+200B), default-ignorable ones (such as U+3164),
 * and unassigned code points and noncharacters (Cn). U+2800 BRAILLE PATTERN BLANK is one too: Unicode
 * counts it as a symbol, but it prints as an empty cell.
 */
const HIDDEN_CLASSES = String.raw`\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Cn}\u2800`;
const HIDDEN_CHARACTER = new RegExp(`[${HIDDEN_CLASSES}]`, 'u');

/** A character that shows: not hidden (above) and not a combining mark (M), which shows only on a character before it. */
const VISIBLE_CHARACTER = new RegExp(`[^${HIDDEN_CLASSES}\\p{M}]`, 'u');

/** Tells whether `text` contains a character that shows no glyph (HIDDEN_CHARACTER), such as a space or U+200B. */
export function hasInvisibleCharacter(text: string): boolean {
  return HIDDEN_CHARACTER.test(text);
}

/** Tells whether `text` has no visible character, as `''`, `'  '` and `'\u200b'` have none. */
export function isBlank(text: string): boolean {
  return !VISIBLE_CHARACTER.test(text);
}

export interface NotBlankOptions {
  /** Whether `''` passes, for an optional field that takes it as no text. Other blank values are still rejected. */
  allowEmpty?: boolean;
}

/**
 * Rejects a string without a visible character with BLANK_MESSAGE. A value of another type
 * passes, so the field's type check reports it alone.
 */
export function IsNotBlank(options: NotBlankOptions = {}, validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isNotBlank',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || (options.allowEmpty === true && value === '') || !isBlank(value),
        defaultMessage: () => BLANK_MESSAGE,
      },
    },
    validationOptions,
  );
}
