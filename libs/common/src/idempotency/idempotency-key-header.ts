import { validationFailed } from '../errors/domain-error';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Printable ASCII: space (0x20) to tilde (0x7E). */
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * Reads the Idempotency-Key header, given as Node.js's `headersDistinct` lists
 * it. Returns null when the request has none and throws `validation_failed`
 * on the header field when it is sent more than once, is empty, is longer
 * than 255 characters or contains anything but printable ASCII. Node.js joins
 * repeated headers with ", ", so two keys would otherwise become a third.
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | null {
  if (header === undefined) {
    return null;
  }
  if (Array.isArray(header) && header.length > 1) {
    throw invalidKey('must appear only once');
  }

  const value = Array.isArray(header) ? header[0] : header;
  if (value.length === 0 || value.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw invalidKey(`must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters long`);
  }
  if (!PRINTABLE_ASCII.test(value)) {
    throw invalidKey('must contain only printable ASCII characters');
  }

  return value;
}

function invalidKey(message: string) {
  return validationFailed([{ field: IDEMPOTENCY_KEY_HEADER, message }], `The ${IDEMPOTENCY_KEY_HEADER} header is invalid.`);
}
