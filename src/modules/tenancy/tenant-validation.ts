import { FieldError } from '@app/common/errors/domain-error';
import { BLANK_MESSAGE, hasInvisibleCharacter, isBlank } from '@app/common/validation/blank-text';
import { EMAIL_MESSAGE } from '@app/common/validation/email-address';

export const SLUG_PATTERN = /^[a-z0-9-]{2,63}$/;
export const DEFAULT_TIME_ZONE = 'America/Chicago';
const TIME_ZONE_MAX_LENGTH = 64;
/** IANA names start with a letter. The pattern also rejects UTC offsets such as `+05:00`, which Intl in Node.js releases after 20 may accept. */
const TIME_ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+\-/]*$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const EMAIL_MAX_LENGTH = 254;

export const NAME_MAX_LENGTH = 200;
export const LABEL_MAX_LENGTH = 100;

export function checkSlug(slug: string, field = 'slug'): FieldError[] {
  return SLUG_PATTERN.test(slug) ? [] : [{ field, message: 'must be 2 to 63 lower-case letters, digits or hyphens' }];
}

export function checkName(name: string, field = 'name', maxLength = NAME_MAX_LENGTH): FieldError[] {
  const trimmed = name.trim();
  if (isBlank(trimmed)) {
    return [{ field, message: BLANK_MESSAGE }];
  }

  return trimmed.length > maxLength ? [{ field, message: `must be at most ${maxLength} characters long` }] : [];
}

/**
 * Returns the IANA time zone name to store for `input`, or null when Intl does
 * not know it. Case follows Intl's spelling when Intl maps the name to itself
 * (`america/chicago` → `America/Chicago`). Aliases such as `US/Central` are
 * kept as given, because Intl's canonical form differs between ICU versions.
 */
export function normalizeTimeZone(input: string): string | null {
  const name = input.trim();
  if (name.length === 0 || name.length > TIME_ZONE_MAX_LENGTH || !TIME_ZONE_NAME.test(name)) {
    return null;
  }

  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }

  if (resolved.toLowerCase() === name.toLowerCase()) {
    return resolved;
  }

  const listed = Intl.supportedValuesOf('timeZone').find((zone) => zone.toLowerCase() === name.toLowerCase());

  return listed ?? name;
}

export function checkTimeZone(input: string, field = 'timeZone'): FieldError[] {
  return normalizeTimeZone(input) === null ? [{ field, message: 'must be an IANA time zone name such as America/Chicago' }] : [];
}

/** Emails are compared lower-cased and without surrounding whitespace. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function checkEmail(email: string, field = 'email'): FieldError[] {
  const normalized = normalizeEmail(email);
  if (normalized.length > EMAIL_MAX_LENGTH || !EMAIL_PATTERN.test(normalized) || hasInvisibleCharacter(normalized)) {
    return [{ field, message: EMAIL_MESSAGE }];
  }

  return [];
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
