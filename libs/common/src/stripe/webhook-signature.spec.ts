import { parseSignatureHeader, signStripePayload, verifyStripeSignature } from './webhook-signature';

const SECRET = 'whsec_testsecret0123456789';
const OTHER = 'whsec_othersecret987654321';
const BODY = Buffer.from('{"id":"evt_1","object":"event","type":"payment_intent.succeeded","note":"Café ✓ \\"quoted\\""}', 'utf8');
const NOW = 1_800_000_000;

function v1(secret: string, timestamp = NOW, body = BODY): string {
  return signStripePayload(secret, body, timestamp).split(',')[1];
}

describe('verifyStripeSignature', () => {
  it('accepts a matching v1 signature', () => {
    expect(verifyStripeSignature(BODY, signStripePayload(SECRET, BODY, NOW), [SECRET], NOW)).toEqual({ ok: true, secretIndex: 0, signedAt: NOW });
  });

  it('accepts when the matching v1 entry comes second', () => {
    const header = `t=${NOW},${v1(OTHER)},${v1(SECRET)}`;

    expect(verifyStripeSignature(BODY, header, [SECRET], NOW).ok).toBe(true);
  });

  it('reports which secret matched', () => {
    expect(verifyStripeSignature(BODY, signStripePayload(OTHER, BODY, NOW), [SECRET, OTHER], NOW)).toEqual({ ok: true, secretIndex: 1, signedAt: NOW });
  });

  it('rejects a missing header', () => {
    expect(verifyStripeSignature(BODY, undefined, [SECRET], NOW)).toEqual({ ok: false, reason: 'missing_header' });
  });

  it('rejects a header with only a v0 entry', () => {
    const header = `t=${NOW},v0=${v1(SECRET).slice(3)}`;

    expect(verifyStripeSignature(BODY, header, [SECRET], NOW)).toEqual({ ok: false, reason: 'malformed_header' });
  });

  it('rejects a timestamp older than the tolerance', () => {
    const header = signStripePayload(SECRET, BODY, NOW - 301);

    expect(verifyStripeSignature(BODY, header, [SECRET], NOW)).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
  });

  it('rejects a timestamp in the future beyond the tolerance', () => {
    const header = signStripePayload(SECRET, BODY, NOW + 301);

    expect(verifyStripeSignature(BODY, header, [SECRET], NOW)).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
  });

  it('accepts a timestamp exactly at the tolerance', () => {
    expect(verifyStripeSignature(BODY, signStripePayload(SECRET, BODY, NOW - 300), [SECRET], NOW).ok).toBe(true);
  });

  it('rejects a body with one byte changed', () => {
    const tampered = Buffer.from(BODY);
    tampered[10] = tampered[10] ^ 1;

    expect(verifyStripeSignature(tampered, signStripePayload(SECRET, BODY, NOW), [SECRET], NOW)).toEqual({ ok: false, reason: 'no_matching_signature' });
  });

  it('rejects a signature made with another secret', () => {
    expect(verifyStripeSignature(BODY, signStripePayload(OTHER, BODY, NOW), [SECRET], NOW).ok).toBe(false);
  });

  it('treats a short v1 entry as a mismatch, not a malformed header', () => {
    expect(verifyStripeSignature(BODY, `t=${NOW},v1=deadbeef`, [SECRET], NOW)).toEqual({ ok: false, reason: 'no_matching_signature' });
  });

  it('rejects when no secret is known', () => {
    expect(verifyStripeSignature(BODY, signStripePayload(SECRET, BODY, NOW), [], NOW)).toEqual({ ok: false, reason: 'no_matching_signature' });
  });
});

describe('parseSignatureHeader', () => {
  it('ignores unknown schemes and spaces', () => {
    const parsed = parseSignatureHeader(`t=${NOW}, v1=${'a'.repeat(64)}, v2=zzz`);

    expect(parsed).toEqual({ timestamp: NOW, v1: ['a'.repeat(64)] });
  });

  it('returns null without a timestamp', () => {
    expect(parseSignatureHeader(`v1=${'a'.repeat(64)}`)).toBeNull();
  });

  it('returns null for a non-numeric timestamp', () => {
    expect(parseSignatureHeader(`t=abc,v1=${'a'.repeat(64)}`)).toBeNull();
  });
});
