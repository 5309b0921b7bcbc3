import { ValidateBy, ValidationOptions } from 'class-validator';

/** The message for a text field without a visible character, worded as for every field of the API. */
export const BLANK_MESSAGE = 'must not be blank';

/**
 * A character that shows when the text is displayed. White space (Unicode's White_Space property),
 * control and format characters (categories Cc and Cf, such as U+0001 and U+200B ZERO WIDTH SPACE)
 * and default-ignorable ones (such as U+3164 HANGUL FILLER) do not. Nor do unassigned code points and
 * noncharacters (Cn), nor combining marks (M), which show only on a character before them. Nor does
 * U+2800 BRAILLE PATTERN BLANK: Unicode counts it as a symbol, but it prints as an empty cell.
 */
const VISIBLE_CHARACTER = /[^\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Cn}\p{M}\u2800]/u;

/** A control, format or default-ignorable character: one that takes no space when the text is shown. */
const INVISIBLE_CHARACTER = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/u;

/** Tells whether `text` contains a character that takes no space when shown, such as U+200B or U+00AD. */
export function hasInvisibleCharacter(text: string): boolean {
  return INVISIBLE_CHARACTER.test(text);
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
