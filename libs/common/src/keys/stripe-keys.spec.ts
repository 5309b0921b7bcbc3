import { containsSecret, maskStripeKey, parseStripeKey, redactSecrets } from './stripe-keys';

describe('parseStripeKey', () => {
  it('reads kind and mode of a secret test key', () => {
    expect(parseStripeKey('sk_test_51Nv0FGQ9RKHgCVdKgCcv')).toEqual({ kind: 'secret', mode: 'test', prefix: 'sk_test_' });
  });

  it('reads a restricted live key', () => {
    expect(parseStripeKey('rk_live_abcdefghij1234')?.kind).toBe('restricted');
  });

  it('reads a publishable key', () => {
    expect(parseStripeKey('pk_live_abcdefghij')?.mode).toBe('live');
  });

  it.each([
    ['too short', 'sk_test_abc'],
    ['unknown prefix', 'xk_test_abcdefghijkl'],
    ['unknown mode', 'sk_prod_abcdefghijkl'],
    ['punctuation in the body', 'sk_test_abcdefghij-kl'],
    ['surrounding space', ' sk_test_abcdefghijkl'],
    ['body over 247 characters', `sk_test_${'a'.repeat(248)}`],
  ])('rejects a key with %s', (_case, key) => {
    expect(parseStripeKey(key)).toBeNull();
  });

  it('accepts a body of exactly 247 characters', () => {
    expect(parseStripeKey(`sk_test_${'a'.repeat(247)}`)).not.toBeNull();
  });
});

describe('maskStripeKey', () => {
  it('keeps the prefix and last four characters', () => {
    expect(maskStripeKey('pk_test_51Nv0FGQ9RKHgCVdK8yR8')).toBe('pk_test_…8yR8');
  });

  it('masks a secret key the same way', () => {
    expect(maskStripeKey('sk_test_51Nv0FGQ9RKHgCVdKgCcv')).toBe('sk_test_…gCcv');
  });

  it('reveals nothing of a malformed value', () => {
    expect(maskStripeKey('not-a-key-1234')).toBe('…');
  });
});

describe('secret patterns', () => {
  it('finds a secret key inside text', () => {
    expect(containsSecret('{"key":"sk_live_abcdefghijklmnop"}')).toBe(true);
  });

  it('finds a webhook signing secret', () => {
    expect(containsSecret('whsec_abcdefghijklmnopqrstuvwx')).toBe(true);
  });

  it('ignores a masked key', () => {
    expect(containsSecret('sk_test_…gCcv')).toBe(false);
  });

  it('redacts every secret in a message', () => {
    expect(redactSecrets('a sk_test_abcdefghijkl b whsec_abcdefghijklmnopqrst')).toBe('a sk_test_[redacted] b whsec_[redacted]');
  });
});
