import { createHmac, timingSafeEqual } from 'node:crypto';

/** Stripe's default tolerance between the signed timestamp and now, either way. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export type SignatureFailure = 'missing_header' | 'malformed_header' | 'timestamp_out_of_tolerance' | 'no_matching_signature';

export type SignatureCheck =
  | { ok: true; secretIndex: number; signedAt: number }
  | { ok: false; reason: SignatureFailure };

export interface ParsedSignatureHeader {
  timestamp: number;
  v1: string[];
}

/**
 * Parse `Stripe-Signature: t=…,v1=…,v1=…,v0=…`. Only `t` and `v1` matter; other
 * schemes are ignored, as Stripe's libraries ignore them. Returns null when the
 * header has no usable timestamp or no v1 entry.
 */
export function parseSignatureHeader(header: string): ParsedSignatureHeader | null {
  let timestamp: number | null = null;
  const v1: string[] = [];
  for (const item of header.split(',')) {
    const separator = item.indexOf('=');
    if (separator <= 0) {
      continue;
    }

    const key = item.slice(0, separator).trim();
    const value = item.slice(separator + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) {
      timestamp = Number(value);
    } else if (key === 'v1' && value.length > 0) {
      // A v1 entry of the wrong length or alphabet is kept: it simply matches nothing.
      v1.push(value.toLowerCase());
    }
  }

  if (timestamp === null || v1.length === 0) {
    return null;
  }

  return { timestamp, v1 };
}

export function computeSignature(secret: string, timestamp: number, rawBody: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

/**
 * Verify a delivery against candidate secrets in order. The timestamp is
 * checked both ways (stripe-node's `constructEvent` accepts future ones), and
 * every v1 entry may match, which is how Stripe signs while a secret is rolled.
 */
export function verifyStripeSignature(
  rawBody: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  nowSeconds: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): SignatureCheck {
  if (!header) {
    return { ok: false, reason: 'missing_header' };
  }

  const parsed = parseSignatureHeader(header);
  if (!parsed) {
    return { ok: false, reason: 'malformed_header' };
  }

  if (Math.abs(nowSeconds - parsed.timestamp) > toleranceSeconds) {
    return { ok: false, reason: 'timestamp_out_of_tolerance' };
  }

  const candidates = parsed.v1.filter((hex) => /^[0-9a-f]{64}$/.test(hex)).map((hex) => Buffer.from(hex, 'hex'));
  for (let index = 0; index < secrets.length; index++) {
    const expected = computeSignature(secrets[index], parsed.timestamp, rawBody);
    if (candidates.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected))) {
      return { ok: true, secretIndex: index, signedAt: parsed.timestamp };
    }
  }

  return { ok: false, reason: 'no_matching_signature' };
}

/** Build a header the way Stripe does; for the emulator, tests and benchmarks. */
export function signStripePayload(secret: string, rawBody: Buffer | string, timestamp: number): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;

  return `t=${timestamp},v1=${computeSignature(secret, timestamp, body).toString('hex')}`;
}
