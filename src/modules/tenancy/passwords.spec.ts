import { parseOptions } from '@node-rs/argon2';
import { PASSWORD_MAX_LENGTH, checkPasswordPolicy, hashPassword, passwordNeedsRehash, verifyPassword } from './passwords';

describe('password policy', () => {
  it('rejects 11 characters', () => {
    expect(checkPasswordPolicy('a'.repeat(11))).toEqual([{ field: 'password', message: 'must be at least 12 characters long' }]);
  });

  it('accepts 12 characters', () => {
    expect(checkPasswordPolicy('a'.repeat(12))).toEqual([]);
  });

  it('counts code points, not UTF-16 units', () => {
    // Six emoji are twelve UTF-16 code units but six characters.
    expect(checkPasswordPolicy('🔑'.repeat(6))).toHaveLength(1);
  });

  it('accepts the maximum length', () => {
    expect(checkPasswordPolicy('a'.repeat(PASSWORD_MAX_LENGTH))).toEqual([]);
  });

  it('rejects one character over the maximum', () => {
    expect(checkPasswordPolicy('a'.repeat(PASSWORD_MAX_LENGTH + 1))).toEqual([
      { field: 'password', message: `must be at most ${PASSWORD_MAX_LENGTH} characters long` },
    ]);
  });

  it.each([' '.repeat(12), '\t'.repeat(12), '\u00a0'.repeat(12), '\u200b'.repeat(12), '\u00ad'.repeat(12), '\u3164'.repeat(12)])('rejects a blank password %j', (password) => {
    expect(checkPasswordPolicy(password)).toEqual([{ field: 'password', message: 'must contain a visible character' }]);
  });

  it('accepts spaces between other characters', () => {
    expect(checkPasswordPolicy('correct horse battery')).toEqual([]);
  });

  it('names the field it was given', () => {
    expect(checkPasswordPolicy('short', 'newPassword')[0].field).toBe('newPassword');
  });
});

describe('password hashing', () => {
  it('hashes with argon2id at m=19456 KiB, t=2, p=1', async () => {
    const hash = await hashPassword('correct horse battery');
    const options = parseOptions(hash);

    expect(hash.startsWith('$argon2id$')).toBe(true);
    expect(options.memoryCost).toBe(19_456);
    expect(options.timeCost).toBe(2);
    expect(options.parallelism).toBe(1);
  });

  it('verifies the right password', async () => {
    const hash = await hashPassword('correct horse battery');

    await expect(verifyPassword(hash, 'correct horse battery')).resolves.toBe(true);
  });

  it('rejects a wrong password', async () => {
    const hash = await hashPassword('correct horse battery');

    await expect(verifyPassword(hash, 'correct horse battery!')).resolves.toBe(false);
  });

  it('rejects any password against a malformed hash', async () => {
    await expect(verifyPassword('not-a-hash', 'correct horse battery')).resolves.toBe(false);
  });

  it('salts each hash', async () => {
    const first = await hashPassword('correct horse battery');
    const second = await hashPassword('correct horse battery');

    expect(first).not.toBe(second);
  });
});

describe('passwordNeedsRehash', () => {
  it('keeps a hash made with the current options', async () => {
    expect(passwordNeedsRehash(await hashPassword('correct horse battery'))).toBe(false);
  });

  it.each([
    ['lower memory', '$argon2id$v=19$m=4096,t=2,p=1$c2FsdHNhbHQ$aGFzaA'],
    ['fewer passes', '$argon2id$v=19$m=19456,t=1,p=1$c2FsdHNhbHQ$aGFzaA'],
    ['argon2i', '$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA'],
    ['not argon2', '$2b$12$abcdefghijklmnopqrstuv'],
  ])('rehashes a hash with %s', (_case, storedHash) => {
    expect(passwordNeedsRehash(storedHash)).toBe(true);
  });

  it('keeps a stronger hash', () => {
    expect(passwordNeedsRehash('$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA')).toBe(false);
  });
});
