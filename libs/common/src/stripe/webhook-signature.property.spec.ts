import fc from 'fast-check';
import { SIGNATURE_TOLERANCE_SECONDS, SignatureCheck, computeSignature, verifyStripeSignature } from './webhook-signature';

const SEED = Number(process.env.FC_SEED ?? 20261204);
const RUNS = 500;
const NOW = 1_780_000_000;
const FAILURES = new Set(['missing_header', 'malformed_header', 'timestamp_out_of_tolerance', 'no_matching_signature']);

const secret = fc.string({ minLength: 1, maxLength: 40 }).map((text) => `whsec_${text}`);
const body = fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes));
const timestamp = fc.integer({ min: NOW - SIGNATURE_TOLERANCE_SECONDS, max: NOW + SIGNATURE_TOLERANCE_SECONDS });
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const space = fc.constantFrom('', ' ', '  ', '\t');

/** Entries Stripe's verifiers ignore or that match nothing: other schemes, wrong v1 values, junk. */
const noise = fc.oneof(
  fc.tuple(fc.constantFrom('v0', 'v2', 'V1', 'v1a', 'sig', 'scheme'), hex64).map(([scheme, value]) => `${scheme}=${value}`),
  hex64.map((value) => `v1=${value}`),
  fc.string({ maxLength: 20 }).filter((text) => !text.includes(',') && !/^\s*t\s*=/.test(text)),
);

function hexOf(secretValue: string, at: number, payload: Buffer): string {
  return computeSignature(secretValue, at, payload).toString('hex');
}

function expectFailure(result: SignatureCheck): void {
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(FAILURES.has(result.reason)).toBe(true);
  }
}

describe('verifyStripeSignature properties', () => {
  it('returns a failure for any header string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), secret, body, (header, secretValue, payload) => {
        expectFailure(verifyStripeSignature(payload, header, [secretValue], NOW));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('accepts only a header carrying the signature of its timestamp', () => {
    const timestampEntry = fc.oneof(timestamp, fc.integer({ min: 0, max: 2 ** 40 })).map((value) => `t=${value}`);
    const signedHeader = fc
      .tuple(fc.array(fc.oneof(noise, timestampEntry), { maxLength: 8 }), secret, body, timestamp, fc.boolean())
      .chain(([entries, secretValue, payload, signedAt, includeSigned]) => {
        const items = includeSigned ? [...entries, `t=${signedAt}`, `v1=${hexOf(secretValue, signedAt, payload)}`] : entries;

        return fc.shuffledSubarray(items, { minLength: items.length }).map((shuffled) => ({ text: shuffled.join(','), secretValue, payload }));
      });
    fc.assert(
      fc.property(signedHeader, ({ text, secretValue, payload }) => {
        const result = verifyStripeSignature(payload, text, [secretValue], NOW);
        if (!result.ok) {
          expect(FAILURES.has(result.reason)).toBe(true);

          return;
        }

        // An accept needs a v1 entry equal to the signature over a timestamp the header names, within the tolerance.
        const named = [...text.matchAll(/(?:^|,)\s*t\s*=\s*(\d+)/g)].map((match) => Number(match[1]));
        const matching = named.filter((at) => Math.abs(NOW - at) <= SIGNATURE_TOLERANCE_SECONDS && text.toLowerCase().includes(hexOf(secretValue, at, payload)));
        expect(matching.length).toBeGreaterThan(0);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('accepts the right signature among other entries', () => {
    fc.assert(
      fc.property(fc.array(noise, { maxLength: 6 }), fc.array(space, { minLength: 10, maxLength: 10 }), secret, body, timestamp, (extra, spaces, secretValue, payload, signedAt) => {
        const entries = [`t=${signedAt}`, `v1=${hexOf(secretValue, signedAt, payload)}`, ...extra].map((entry, index) => `${spaces[index % spaces.length]}${entry}`);
        const result = verifyStripeSignature(payload, entries.reverse().join(','), [secretValue], NOW);

        expect(result).toEqual({ ok: true, secretIndex: 0, signedAt });
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('rejects near misses of the right signature', () => {
    const nearMiss = fc.constantFrom('flipped', 'truncated', 'v0', 'other_timestamp', 'duplicate_t_last', 'body_changed', 'other_secret', 'too_old', 'too_new');
    fc.assert(
      fc.property(nearMiss, secret, body, timestamp, fc.nat(63), (kind, secretValue, payload, signedAt, position) => {
        const signature = hexOf(secretValue, signedAt, payload);
        const flipped = `${signature.slice(0, position)}${signature[position] === '0' ? '1' : '0'}${signature.slice(position + 1)}`;
        const otherAt = signedAt === NOW ? NOW + 1 : NOW;
        const headers: Record<string, [string, Buffer, string]> = {
          flipped: [`t=${signedAt},v1=${flipped}`, payload, secretValue],
          truncated: [`t=${signedAt},v1=${signature.slice(0, 63)}`, payload, secretValue],
          v0: [`t=${signedAt},v0=${signature}`, payload, secretValue],
          other_timestamp: [`t=${otherAt},v1=${signature}`, payload, secretValue],
          // The last t counts, so a replayed signature cannot borrow a fresh timestamp by adding one.
          duplicate_t_last: [`t=${signedAt},v1=${signature},t=${otherAt}`, payload, secretValue],
          body_changed: [`t=${signedAt},v1=${signature}`, Buffer.concat([payload, Buffer.from(' ')]), secretValue],
          other_secret: [`t=${signedAt},v1=${signature}`, payload, `${secretValue}x`],
          too_old: [`t=${NOW - SIGNATURE_TOLERANCE_SECONDS - 1},v1=${hexOf(secretValue, NOW - SIGNATURE_TOLERANCE_SECONDS - 1, payload)}`, payload, secretValue],
          too_new: [`t=${NOW + SIGNATURE_TOLERANCE_SECONDS + 1},v1=${hexOf(secretValue, NOW + SIGNATURE_TOLERANCE_SECONDS + 1, payload)}`, payload, secretValue],
        };
        const [header, checkedBody, checkedSecret] = headers[kind];

        expectFailure(verifyStripeSignature(checkedBody, header, [checkedSecret], NOW));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
