import fc from 'fast-check';
import { canonicalJson, requestBodyHash } from './canonical-json';

/** Rebuilds a JSON value with every object's keys in reverse order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(reverseKeys);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .reverse()
        .map((key) => [key, reverseKeys((value as Record<string, unknown>)[key])]),
    );
  }

  return value;
}

describe('canonicalJson', () => {
  it('sorts object keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
  });

  it('keeps array order', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
  });

  it('leaves out undefined members', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it('escapes strings as JSON does', () => {
    expect(canonicalJson({ 'k"ey': 'line\nbreak ü' })).toBe('{"k\\"ey":"line\\nbreak ü"}');
  });

  it('ignores key order and formatting for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const reformatted = JSON.parse(JSON.stringify(reverseKeys(value), null, 2));

        expect(canonicalJson(reformatted)).toBe(canonicalJson(value));
      }),
    );
  });

  it('parses back to an equal value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('requestBodyHash', () => {
  it('treats a missing body as an empty object', () => {
    expect(requestBodyHash(undefined)).toBe(requestBodyHash({}));
  });

  it('differs for different amounts', () => {
    expect(requestBodyHash({ amount: 1000 })).not.toBe(requestBodyHash({ amount: 1001 }));
  });

  it('is a hex SHA-256', () => {
    expect(requestBodyHash({ amount: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });
});
