import { invalidRequest } from './errors';

/**
 * A decoded form value. Arrays stay objects keyed by index (`{ "0": "card" }`) here, because
 * only the parameter's schema can tell `metadata[0]=x` (a hash) from `payment_method_types[0]=card`
 * (an array).
 */
export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

// Keys that would reach Object.prototype through plain-object assignment.
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

// Bounds bracket nesting against pathological keys. The parameters served here nest at most two levels.
const MAX_DEPTH = 10;

/**
 * Splits `a[b][0][c]` into `['a', 'b', '0', 'c']`. An empty segment (`a[]`) stays `''` and
 * means "append". Returns null for a key with unbalanced brackets.
 */
export function splitFormKey(key: string): string[] | null {
  const open = key.indexOf('[');
  if (open === -1) {
    return [key];
  }
  const segments = [key.slice(0, open)];
  let rest = key.slice(open);
  while (rest.length > 0) {
    const match = /^\[([^[\]]*)\]/.exec(rest);
    if (!match) {
      return null;
    }
    segments.push(match[1]);
    rest = rest.slice(match[0].length);
  }
  return segments;
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw invalidRequest(`Invalid URL encoding in request: ${text.slice(0, 100)}`);
  }
}

/**
 * Decodes an `application/x-www-form-urlencoded` body (or query string) with Stripe's bracket
 * nesting: `metadata[classId]=x`, `payment_method_types[0]=card`, `expand[]=latest_charge`.
 * A later scalar for the same key replaces an earlier one. A key used both as a scalar and as
 * a hash raises Stripe's 400.
 */
export function decodeForm(text: string): FormObject {
  const root: FormObject = {};
  if (text.length === 0) {
    return root;
  }
  for (const pair of text.split('&')) {
    if (pair.length === 0) {
      continue;
    }
    const separator = pair.indexOf('=');
    const rawKey = separator === -1 ? pair : pair.slice(0, separator);
    const rawValue = separator === -1 ? '' : pair.slice(separator + 1);
    const key = decodeComponent(rawKey);
    const value = decodeComponent(rawValue);
    const segments = splitFormKey(key);
    if (
      segments === null ||
      segments[0] === '' ||
      segments.length > MAX_DEPTH ||
      segments.some((segment) => FORBIDDEN_SEGMENTS.has(segment))
    ) {
      throw invalidRequest(`Invalid parameter name: ${key}`);
    }
    assign(root, segments, value, key);
  }
  return root;
}

function assign(root: FormObject, segments: string[], value: string, fullKey: string): void {
  let container = root;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] === '' ? String(Object.keys(container).length) : segments[i];
    const isLast = i === segments.length - 1;
    // Only own properties count: `toString` or `valueOf` would otherwise find Object.prototype's.
    const existing = Object.hasOwn(container, segment) ? container[segment] : undefined;
    if (isLast) {
      if (typeof existing === 'object') {
        throw invalidRequest(`Invalid value for ${fullKey}: a hash was already given for this parameter.`, {
          param: fullKey,
        });
      }
      container[segment] = value;
      return;
    }
    if (existing === undefined) {
      const child: FormObject = {};
      container[segment] = child;
      container = child;
    } else if (typeof existing === 'string') {
      // `metadata=` followed by `metadata[key]=v`: the empty scalar (Stripe's "unset") yields to the hash.
      if (existing !== '') {
        throw invalidRequest(`Invalid hash for ${fullKey}: a string was already given for this parameter.`, {
          param: fullKey,
        });
      }
      const child: FormObject = {};
      container[segment] = child;
      container = child;
    } else {
      container = existing;
    }
  }
}

/** Serializes decoded parameters with sorted keys so equal requests compare equal. */
export function canonicalForm(value: FormValue): string {
  if (typeof value === 'string') {
    return JSON.stringify(value);
  }
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalForm(value[key])}`).join(',')}}`;
}
