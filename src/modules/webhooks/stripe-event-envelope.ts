/** Longer ids or types cannot be Stripe's and would not fit the unique index. */
const MAX_IDENTIFIER_LENGTH = 255;

/** The top-level fields of a Stripe event that the inbox stores in columns. */
export interface StripeEventEnvelope {
  id: string;
  type: string;
  /** Seconds since the epoch. */
  created: number;
  livemode: boolean;
  apiVersion: string | null;
}

// `fatal` rejects bytes that are not UTF-8, which PostgreSQL's convert_from
// would reject too. `ignoreBOM` keeps a byte order mark in the text, so
// JSON.parse rejects it here as the jsonb cast would.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Read the envelope of a verified delivery. Returns null when the body is not
 * a Stripe event: not UTF-8 JSON, not an object, or without a string `id`
 * starting with `evt_`, a string `type`, an integer `created` and a boolean
 * `livemode`.
 */
export function parseStripeEventEnvelope(rawBody: Buffer): StripeEventEnvelope | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(rawBody));
  } catch {
    return null;
  }

  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return null;
  }

  const { id, type, created, livemode, api_version: apiVersion } = parsed as Record<string, unknown>;
  if (typeof id !== 'string' || !id.startsWith('evt_') || id.length > MAX_IDENTIFIER_LENGTH) {
    return null;
  }

  if (typeof type !== 'string' || type.length === 0 || type.length > MAX_IDENTIFIER_LENGTH) {
    return null;
  }

  if (typeof created !== 'number' || !Number.isSafeInteger(created) || created < 0) {
    return null;
  }

  if (typeof livemode !== 'boolean') {
    return null;
  }

  return { id, type, created, livemode, apiVersion: typeof apiVersion === 'string' ? apiVersion : null };
}
