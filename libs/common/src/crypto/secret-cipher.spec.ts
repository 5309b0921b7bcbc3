import { randomBytes } from 'node:crypto';
import { SecretCipher, SecretDecryptionError, parseEncryptionKeys } from './secret-cipher';

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');

describe('SecretCipher', () => {
  it('decrypts what it encrypted', () => {
    const cipher = new SecretCipher(KEY_A);
    const stored = cipher.encrypt('sk_test_abcdefghijkl', 'tenant:1');

    expect(cipher.decrypt(stored, 'tenant:1')).toBe('sk_test_abcdefghijkl');
  });

  it('never stores the plaintext', () => {
    const stored = new SecretCipher(KEY_A).encrypt('sk_test_abcdefghijkl', 'tenant:1');

    expect(Buffer.from(stored.ciphertext, 'base64').toString('latin1')).not.toContain('sk_test_');
  });

  it('refuses a ciphertext moved to another owner', () => {
    const cipher = new SecretCipher(KEY_A);
    const stored = cipher.encrypt('sk_test_abcdefghijkl', 'tenant:1');

    expect(() => cipher.decrypt(stored, 'tenant:2')).toThrow();
  });

  it('encrypts with the first key and decrypts with any listed key', () => {
    const old = new SecretCipher(`old:${KEY_B}`).encrypt('secret', 'x');
    const rotated = new SecretCipher(`new:${KEY_A},old:${KEY_B}`);

    expect(rotated.decrypt(old, 'x')).toBe('secret');
    expect(rotated.encrypt('secret', 'x').keyId).toBe('new');
  });

  it('names the missing key id', () => {
    const stored = new SecretCipher(`gone:${KEY_B}`).encrypt('secret', 'x');

    expect(() => new SecretCipher(`new:${KEY_A}`).decrypt(stored, 'x')).toThrow(/"gone"/);
  });

  it('reports the reason and key id of a failure', () => {
    const stored = new SecretCipher(`k1:${KEY_A}`).encrypt('secret', 'x');

    expect(() => new SecretCipher(`k2:${KEY_A}`).decrypt(stored, 'x')).toThrow(expect.objectContaining({ keyId: 'k1', reason: 'missing_key' }));
    expect(() => new SecretCipher(`k1:${KEY_B}`).decrypt(stored, 'x')).toThrow(expect.objectContaining({ keyId: 'k1', reason: 'authentication_failed' }));
    expect(() => new SecretCipher(`k1:${KEY_A}`).decrypt(stored, 'y')).toThrow(SecretDecryptionError);
  });
});

describe('parseEncryptionKeys', () => {
  it('rejects a key that is not 32 bytes', () => {
    expect(() => parseEncryptionKeys(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });

  it('rejects duplicate ids', () => {
    expect(() => parseEncryptionKeys(`a:${KEY_A},a:${KEY_B}`)).toThrow(/unique/);
  });

  it('gives a bare key the default id', () => {
    expect(parseEncryptionKeys(KEY_A)[0].id).toBe('default');
  });
});
