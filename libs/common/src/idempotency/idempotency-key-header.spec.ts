import { DomainError } from '../errors/domain-error';
import { parseIdempotencyKey } from './idempotency-key-header';

function rejection(header: string | string[]): DomainError {
  try {
    parseIdempotencyKey(header);
  } catch (error) {
    return error as DomainError;
  }
  throw new Error(`"${header}" was accepted`);
}

describe('parseIdempotencyKey', () => {
  it('returns null without a header', () => {
    expect(parseIdempotencyKey(undefined)).toBeNull();
  });

  it('accepts one printable character', () => {
    expect(parseIdempotencyKey('a')).toBe('a');
  });

  it('accepts 255 characters', () => {
    expect(parseIdempotencyKey('k'.repeat(255))).toHaveLength(255);
  });

  it('accepts spaces and punctuation inside the key', () => {
    expect(parseIdempotencyKey('order 42/retry:1 ~!')).toBe('order 42/retry:1 ~!');
  });

  it('rejects an empty key', () => {
    expect(rejection('').code).toBe('validation_failed');
  });

  it('rejects 256 characters', () => {
    expect(rejection('k'.repeat(256)).errors).toEqual([{ field: 'Idempotency-Key', message: 'must be 1 to 255 characters long' }]);
  });

  it('rejects a control character', () => {
    expect(rejection('a\tb').errors?.[0].field).toBe('Idempotency-Key');
  });

  it('rejects the header sent twice', () => {
    expect(rejection(['a1', 'a2']).errors).toEqual([{ field: 'Idempotency-Key', message: 'must appear only once' }]);
  });

  it('accepts one header given as a list', () => {
    expect(parseIdempotencyKey(['a1'])).toBe('a1');
  });

  it('rejects a non-ASCII character', () => {
    expect(rejection('clé').errors).toEqual([{ field: 'Idempotency-Key', message: 'must contain only printable ASCII characters' }]);
  });
});
