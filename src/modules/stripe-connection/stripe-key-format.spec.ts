import { DomainError } from '@app/common/errors/domain-error';
import { describeKeyFormatProblem, parseKeyPair, trimKeyInput } from './stripe-key-format';

const SUFFIX = '51Nv0FGQ9RKHgCVdK8yR8abc';
const SECRET_PREFIX_MESSAGE = 'must start with sk_test_, sk_live_, rk_test_ or rk_live_';
const PUBLISHABLE_PREFIX_MESSAGE = 'must start with pk_test_ or pk_live_';

describe('describeKeyFormatProblem', () => {
  it.each(['sk_test_', 'sk_live_', 'rk_test_', 'rk_live_'])('accepts a %s key in the secret field', (prefix) => {
    expect(describeKeyFormatProblem(`${prefix}${SUFFIX}`, 'secretKey')).toBeNull();
  });

  it.each(['pk_test_', 'pk_live_'])('accepts a %s key in the publishable field', (prefix) => {
    expect(describeKeyFormatProblem(`${prefix}${SUFFIX}`, 'publishableKey')).toBeNull();
  });

  it('rejects a publishable key in the secret field', () => {
    expect(describeKeyFormatProblem(`pk_test_${SUFFIX}`, 'secretKey')).toBe(SECRET_PREFIX_MESSAGE);
  });

  it('rejects a secret key in the publishable field', () => {
    expect(describeKeyFormatProblem(`sk_test_${SUFFIX}`, 'publishableKey')).toBe(PUBLISHABLE_PREFIX_MESSAGE);
  });

  it('rejects a restricted key in the publishable field', () => {
    expect(describeKeyFormatProblem(`rk_live_${SUFFIX}`, 'publishableKey')).toBe(PUBLISHABLE_PREFIX_MESSAGE);
  });

  it('rejects an unknown mode', () => {
    expect(describeKeyFormatProblem(`sk_prod_${SUFFIX}`, 'secretKey')).toBe(SECRET_PREFIX_MESSAGE);
  });

  it('rejects a body of nine characters', () => {
    expect(describeKeyFormatProblem('sk_test_123456789', 'secretKey')).toBe('must be its prefix followed by 10 to 247 letters and digits');
  });

  it('accepts a body of ten characters', () => {
    expect(describeKeyFormatProblem('sk_test_1234567890', 'secretKey')).toBeNull();
  });

  it('accepts a body of 247 characters', () => {
    expect(describeKeyFormatProblem(`sk_test_${'a'.repeat(247)}`, 'secretKey')).toBeNull();
  });

  it('rejects a body of 248 characters', () => {
    expect(describeKeyFormatProblem(`sk_test_${'a'.repeat(248)}`, 'secretKey')).not.toBeNull();
  });

  it('rejects a body with an underscore', () => {
    expect(describeKeyFormatProblem(`sk_test_${SUFFIX}_x`, 'secretKey')).not.toBeNull();
  });

  it('rejects inner whitespace', () => {
    expect(describeKeyFormatProblem(`sk_test_${SUFFIX} x`, 'secretKey')).not.toBeNull();
  });

  it('rejects a value that is not a string', () => {
    expect(describeKeyFormatProblem(42, 'secretKey')).toBe(SECRET_PREFIX_MESSAGE);
  });

  it('never quotes the rejected value', () => {
    const rejected = `sk_test_${SUFFIX}!`;

    expect(describeKeyFormatProblem(rejected, 'secretKey')).not.toContain(SUFFIX);
  });
});

describe('trimKeyInput', () => {
  it('removes surrounding spaces, tabs and newlines', () => {
    expect(trimKeyInput(`  \tsk_test_${SUFFIX}\n`)).toBe(`sk_test_${SUFFIX}`);
  });

  it('passes a non-string through', () => {
    expect(trimKeyInput(null)).toBeNull();
  });
});

describe('parseKeyPair', () => {
  it('returns the kind and mode of both keys', () => {
    const pair = parseKeyPair(`pk_live_${SUFFIX}`, `rk_live_${SUFFIX}`);

    expect(pair.publishable).toEqual({ kind: 'publishable', mode: 'live', prefix: 'pk_live_' });
    expect(pair.secret).toEqual({ kind: 'restricted', mode: 'live', prefix: 'rk_live_' });
  });

  it('parses a pair of different modes, which the service rejects later', () => {
    const pair = parseKeyPair(`pk_test_${SUFFIX}`, `sk_live_${SUFFIX}`);

    expect(pair.publishable.mode).toBe('test');
    expect(pair.secret.mode).toBe('live');
  });

  it('raises validation_failed naming each bad field', () => {
    let caught: unknown;
    try {
      parseKeyPair(`sk_test_${SUFFIX}`, `pk_test_${SUFFIX}`);
    } catch (error) {
      caught = error;
    }

    expect(caught).toBeInstanceOf(DomainError);
    expect((caught as DomainError).code).toBe('validation_failed');
    expect((caught as DomainError).errors?.map((error) => error.field)).toEqual(['publishableKey', 'secretKey']);
  });
});
