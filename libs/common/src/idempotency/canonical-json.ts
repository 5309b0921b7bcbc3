import { createHash } from 'node:crypto';

/**
 * Serialises a parsed JSON value with object keys sorted (by UTF-16 code
 * units, recursively) and no whitespace, so two bodies that differ only in key
 * order or formatting serialise alike. Array order is kept, because it is
 * meaningful. `undefined` members are left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value) ?? 'null';
  }

  if (Array.isArray(value)) {
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  }

  const members = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);

  return `{${members.join(',')}}`;
}

/**
 * Returns the SHA-256 (hex) of a request body's canonical JSON. A request
 * without a body counts as `{}`, so a retry that sends `{}` where the first
 * sent nothing is the same request.
 */
export function requestBodyHash(body: unknown): string {
  const normalised = body === undefined || body === null ? {} : body;

  return createHash('sha256').update(canonicalJson(normalised)).digest('hex');
}
