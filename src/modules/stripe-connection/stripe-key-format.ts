import { FieldError, validationFailed } from '@app/common/errors/domain-error';
import { ParsedStripeKey, parseStripeKey } from '@app/common/keys/stripe-keys';

/** The two key fields of the connect and edit-keys requests, named as the client sends them. */
export type StripeKeyField = 'publishableKey' | 'secretKey';

const ALLOWED_PREFIXES: Record<StripeKeyField, readonly string[]> = {
  publishableKey: ['pk_test_', 'pk_live_'],
  secretKey: ['sk_test_', 'sk_live_', 'rk_test_', 'rk_live_'],
};

/** Trim surrounding whitespace from a submitted key; other values pass through for the type check. */
export function trimKeyInput(value: unknown): unknown {
  return typeof value === 'string' ? value.trim() : value;
}

/**
 * Describe what is wrong with a submitted key, or return null when it is well
 * formed for its field. The message never quotes the value, because a rejected
 * key must not be echoed back.
 */
export function describeKeyFormatProblem(value: unknown, field: StripeKeyField): string | null {
  const prefixes = ALLOWED_PREFIXES[field];
  if (typeof value !== 'string' || !prefixes.some((prefix) => value.startsWith(prefix))) {
    return `must start with ${listAlternatives(prefixes)}`;
  }

  if (!parseStripeKey(value)) {
    return 'must be its prefix followed by 10 to 247 letters and digits';
  }

  return null;
}

/** Describe what a key field expects, as the message for a value that is missing or not a string. */
export function describeKeyType(field: StripeKeyField): string {
  return `must be a string that starts with ${listAlternatives(ALLOWED_PREFIXES[field])}`;
}

function listAlternatives(items: readonly string[]): string {
  if (items.length === 1) {
    return items[0];
  }

  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

export interface ParsedKeyPair {
  publishable: ParsedStripeKey;
  secret: ParsedStripeKey;
}

/**
 * Parse a key pair that passed the request validation. A malformed key here is
 * reported as the same validation failure, so a caller that skipped the DTO
 * still cannot store one.
 */
export function parseKeyPair(publishableKey: string, secretKey: string): ParsedKeyPair {
  const errors: FieldError[] = [];
  for (const [field, value] of [['publishableKey', publishableKey], ['secretKey', secretKey]] as const) {
    const problem = describeKeyFormatProblem(value, field);
    if (problem !== null) {
      errors.push({ field, message: problem });
    }
  }

  const publishable = parseStripeKey(publishableKey);
  const secret = parseStripeKey(secretKey);
  if (errors.length > 0 || !publishable || !secret) {
    throw validationFailed(errors);
  }

  return { publishable, secret };
}
