import { API_TOKEN_PREFIX, generateApiToken, generateSessionId, hashSecretToken } from './secret-tokens';

describe('secret tokens', () => {
  it('generates API tokens as the prefix and 32 base64url bytes', () => {
    const token = generateApiToken();

    expect(token.startsWith(API_TOKEN_PREFIX)).toBe(true);
    expect(token.slice(API_TOKEN_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(API_TOKEN_PREFIX.length), 'base64url')).toHaveLength(32);
  });

  it('generates a different API token each time', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => generateApiToken()));

    expect(tokens.size).toBe(100);
  });

  it('generates session ids of 32 base64url bytes without the API token prefix', () => {
    const sessionId = generateSessionId();

    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sessionId.startsWith(API_TOKEN_PREFIX)).toBe(false);
  });

  it('hashes with SHA-256 as lower-case hex', () => {
    // FIPS 180-2 test vector for "abc".
    expect(hashSecretToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashes the same token to the same digest', () => {
    const token = generateApiToken();

    expect(hashSecretToken(token)).toBe(hashSecretToken(token));
  });

  it('never returns the token inside its digest', () => {
    const token = generateApiToken();

    expect(hashSecretToken(token)).not.toContain(token.slice(API_TOKEN_PREFIX.length, API_TOKEN_PREFIX.length + 8));
  });
});
