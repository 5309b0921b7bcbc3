/**
 * Stripe API keys: `pk_`, `sk_` or `rk_` (restricted), then `test_` or `live_`,
 * then 10 to 247 letters and digits.
 */
export type StripeKeyKind = 'publishable' | 'secret' | 'restricted';
export type StripeMode = 'test' | 'live';

export interface ParsedStripeKey {
  kind: StripeKeyKind;
  mode: StripeMode;
  /** The prefix shown when the key is masked, such as `sk_test_`. */
  prefix: string;
}

const KEY_PATTERN = /^(pk|sk|rk)_(test|live)_[A-Za-z0-9]{10,247}$/;
const KIND_BY_PREFIX: Record<string, StripeKeyKind> = { pk: 'publishable', sk: 'secret', rk: 'restricted' };

export function parseStripeKey(key: string): ParsedStripeKey | null {
  const match = KEY_PATTERN.exec(key);
  if (!match) {
    return null;
  }

  return { kind: KIND_BY_PREFIX[match[1]], mode: match[2] as StripeMode, prefix: `${match[1]}_${match[2]}_` };
}

/**
 * Mask a key as the contract shows it: its prefix, an ellipsis (U+2026) and its
 * last four characters. Anything that is not a well-formed key masks to the
 * ellipsis alone, so a malformed value can never leak through here.
 */
export function maskStripeKey(key: string): string {
  const parsed = parseStripeKey(key);
  if (!parsed) {
    return '…';
  }

  return `${parsed.prefix}…${key.slice(-4)}`;
}

/** Patterns of whole secrets: secret and restricted keys, and webhook signing secrets. */
export const SECRET_PATTERNS: readonly RegExp[] = [
  /\b(sk|rk)_(test|live)_[A-Za-z0-9]{10,247}\b/,
  /\bwhsec_[A-Za-z0-9+/=]{16,}\b/,
];

export function containsSecret(text: string): boolean {
  return SECRET_PATTERNS.some((pattern) => pattern.test(text));
}

export function redactSecrets(text: string): string {
  let result = text;
  for (const pattern of SECRET_PATTERNS) {
    result = result.replace(new RegExp(pattern.source, 'g'), (secret) => `${secret.slice(0, secret.indexOf('_', 3) + 1)}[redacted]`);
  }

  return result;
}
