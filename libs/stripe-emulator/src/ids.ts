import { randomInt } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlphanumeric(length: number): string {
  let result = '';
  for (let i = 0; i < length; i++) {
    result += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  }
  return result;
}

/** Creates an id in Stripe's style, e.g. `pi_3Pq…` with 24 characters after the prefix. */
export function newId(prefix: string, length = 24): string {
  return `${prefix}_${randomAlphanumeric(length)}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
