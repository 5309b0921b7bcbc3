import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A secret as stored: the ciphertext and the id of the key that made it. */
export interface EncryptedSecret {
  keyId: string;
  /** base64 of iv (12 bytes) + auth tag (16 bytes) + ciphertext. */
  ciphertext: string;
}

interface KeyEntry {
  id: string;
  key: Buffer;
}

const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** The id given to a key written without one (`APP_ENCRYPTION_KEY=<base64>`). */
export const DEFAULT_KEY_ID = 'default';

/**
 * Parse `APP_ENCRYPTION_KEY`: one base64 32-byte key, or `id:base64,id:base64,…`
 * where the first encrypts and all decrypt. Throws with a message that names
 * what is wrong but never echoes key material.
 */
export function parseEncryptionKeys(value: string): KeyEntry[] {
  const parts = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (parts.length === 0) {
    throw new Error('must hold at least one key');
  }

  const entries = parts.map((part, index) => {
    const separator = part.indexOf(':');
    const id = separator === -1 ? DEFAULT_KEY_ID : part.slice(0, separator);
    const encoded = separator === -1 ? part : part.slice(separator + 1);
    if (!KEY_ID_PATTERN.test(id)) {
      throw new Error(`key ${index + 1} has an invalid id (letters, digits, _ and -, at most 32)`);
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
      throw new Error(`key ${index + 1} (${id}) must be 32 bytes in base64`);
    }

    return { id, key };
  });
  const ids = new Set(entries.map((entry) => entry.id));
  if (ids.size !== entries.length) {
    throw new Error('key ids must be unique');
  }

  return entries;
}

/**
 * AES-256-GCM encryption of stored secrets. The associated data binds a
 * ciphertext to its owner and purpose (say `tenant:<id>:stripe-secret-key`), so
 * a ciphertext copied into another tenant's row does not decrypt.
 */
/**
 * Failure to decrypt a stored secret. Either its key id is not in
 * APP_ENCRYPTION_KEY (`missing_key`), or the ciphertext fails GCM
 * authentication (`authentication_failed`). The latter means a corrupted
 * ciphertext, one copied from another row, or other key material under that id.
 */
export class SecretDecryptionError extends Error {
  override readonly name = 'SecretDecryptionError';

  constructor(
    readonly keyId: string,
    readonly reason: 'missing_key' | 'authentication_failed',
  ) {
    super(
      reason === 'missing_key'
        ? `No encryption key with id "${keyId}" is configured in APP_ENCRYPTION_KEY`
        : `A secret stored under encryption key "${keyId}" failed authentication`,
    );
  }
}

export class SecretCipher {
  private readonly keys: KeyEntry[];

  constructor(keysSetting: string) {
    this.keys = parseEncryptionKeys(keysSetting);
  }

  get currentKeyId(): string {
    return this.keys[0].id;
  }

  encrypt(plaintext: string, associatedData: string): EncryptedSecret {
    const { id, key } = this.keys[0];
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);

    return { keyId: id, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64') };
  }

  decrypt(secret: EncryptedSecret, associatedData: string): string {
    const entry = this.keys.find((candidate) => candidate.id === secret.keyId);
    if (!entry) {
      throw new SecretDecryptionError(secret.keyId, 'missing_key');
    }

    const raw = Buffer.from(secret.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', entry.key, raw.subarray(0, IV_LENGTH));
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_LENGTH, IV_LENGTH + TAG_LENGTH));

    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_LENGTH + TAG_LENGTH)), decipher.final()]).toString('utf8');
    } catch {
      // Node raises a plain Error ("unable to authenticate data") on a bad tag or a truncated ciphertext.
      throw new SecretDecryptionError(secret.keyId, 'authentication_failed');
    }
  }
}

export const SECRET_CIPHER = Symbol('SECRET_CIPHER');
