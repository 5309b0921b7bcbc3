import { randomInt } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** 24 base62 characters carry about 142 bits of randomness. */
const TOKEN_RANDOM_LENGTH = 24;
const TOKEN_PATTERN = /^wh_[A-Za-z0-9]{20,64}$/;

/** Generate a webhook endpoint token: `wh_` and 24 uniformly random base62 characters. */
export function generateWebhookEndpointToken(): string {
  let random = '';
  for (let index = 0; index < TOKEN_RANDOM_LENGTH; index++) {
    random += BASE62[randomInt(BASE62.length)];
  }

  return `wh_${random}`;
}

/** Check whether a path segment can be a webhook endpoint token at all, so lookups of garbage skip the database. */
export function isWellFormedWebhookEndpointToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}
