import { ValidateBy, ValidationOptions } from 'class-validator';

/**
 * Limits a text field that is sent to Stripe to `max` UTF-16 code units, as
 * JavaScript's `length` counts them, where a character outside the Basic
 * Multilingual Plane, such as an emoji, counts as two. class-validator's
 * MaxLength counts it as one, so a memo of 1,000 emoji passed a limit of 1,000
 * and Stripe's emulator refused it at 2,000, after the invoice had its number.
 * Counting the stricter way keeps every value the API takes within Stripe's
 * limit whichever way Stripe counts.
 */
export function MaxStripeTextLength(max: number, validationOptions?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxStripeTextLength',
      constraints: [max],
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || value.length <= max,
        defaultMessage: () => `must be at most ${max} characters long (an emoji counts as two)`,
      },
    },
    validationOptions,
  );
}
