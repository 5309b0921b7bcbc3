import { Algorithm, hash, verify } from '@node-rs/argon2';
import { FieldError } from '@app/common/errors/domain-error';
import { isBlank } from '@app/common/validation/blank-text';

export const PASSWORD_MIN_LENGTH = 12;
/** Argon2 cost does not grow with length, but a bound keeps request bodies and hashing input sane. */
export const PASSWORD_MAX_LENGTH = 256;

/**
 * `Algorithm` is a const enum that exists only in the package's type
 * declarations (the native module exports an empty object), so code compiled
 * without const-enum inlining (swc in jest) needs the value written out.
 */
const ARGON2ID: Algorithm.Argon2id = 2;

/** OWASP Password Storage Cheat Sheet, argon2id option 2: m=19 MiB, t=2, p=1. */
export const ARGON2_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** Field errors for a password that breaks the policy (length in Unicode code points); empty when it is fine. */
export function checkPasswordPolicy(password: string, field = 'password'): FieldError[] {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) {
    return [{ field, message: `must be at least ${PASSWORD_MIN_LENGTH} characters long` }];
  }

  if (length > PASSWORD_MAX_LENGTH) {
    return [{ field, message: `must be at most ${PASSWORD_MAX_LENGTH} characters long` }];
  }

  if (isBlank(password)) {
    return [{ field, message: 'must contain a visible character' }];
  }

  return [];
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

/** False for a wrong password and for a stored hash that cannot be parsed. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** The `$argon2id$v=19$m=…,t=…,p=…$` prefix of a PHC-format hash. */
const ARGON2_PHC_PATTERN = /^\$(argon2(?:id|i|d))\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$/;

/**
 * Checks whether a stored hash is weaker than ARGON2_OPTIONS: another algorithm, or a
 * lower memory, time or parallelism cost. A login with the right password then
 * stores a fresh hash. A stronger hash is kept, so lowering the options never
 * weakens stored hashes.
 */
export function passwordNeedsRehash(passwordHash: string): boolean {
  const match = ARGON2_PHC_PATTERN.exec(passwordHash);
  if (!match) {
    return true;
  }

  const [, algorithm, memoryCost, timeCost, parallelism] = match;

  return (
    algorithm !== 'argon2id' ||
    Number(memoryCost) < ARGON2_OPTIONS.memoryCost ||
    Number(timeCost) < ARGON2_OPTIONS.timeCost ||
    Number(parallelism) < ARGON2_OPTIONS.parallelism
  );
}
