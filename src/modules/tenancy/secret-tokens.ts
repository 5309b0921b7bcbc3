import { createHash, randomBytes } from 'node:crypto';

/** Prefix of API tokens, so a leaked token is recognisable in logs and secret scanners. */
export const API_TOKEN_PREFIX = 'bst_';

/** Bytes of randomness in API tokens and session ids. */
const TOKEN_BYTES = 32;

/** Generates an API token: the prefix, then 32 random bytes in base64url (43 characters). */
export function generateApiToken(): string {
  return API_TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Generates a session id for the session cookie: 32 random bytes in base64url. */
export function generateSessionId(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/**
 * SHA-256 hex digest of a token or session id, the only form stored. A fast
 * hash is right here because the input carries 256 bits of randomness, so it
 * cannot be guessed by brute force the way a password can.
 */
export function hashSecretToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
