import fc from 'fast-check';
import { findDuplicateKey } from './duplicate-keys';

describe('findDuplicateKey', () => {
  it.each([
    ['{"amount":100,"amount":10000}', 'amount'],
    ['{"metadata":{"order":"1","order":"2"}}', 'metadata.order'],
    ['{"lines":[{"a":1},{"description":"x","description":"y"}]}', 'lines.1.description'],
    ['{"a":1,"\\u0061":2}', 'a'],
    ['[[{"k":1,"k":2}]]', '0.0.k'],
    ['{ "a" : 1 ,\n "b" : { } , "a" : 2 }', 'a'],
  ])('finds the duplicate in %s', (text, path) => {
    expect(findDuplicateKey(text)).toBe(path);
  });

  it.each([
    '{"amount":100,"currency":"usd"}',
    '{"a":{"a":{"a":1}}}',
    '[{"a":1},{"a":2}]',
    '{"a":"\\"a\\":1,","b":"{\\"a\\":2}"}',
    '{"a":"x","b":"\\\\","a\\\\":1}',
    '"text"',
    '42',
    '{}',
  ])('finds none in %s', (text) => {
    expect(findDuplicateKey(text)).toBeNull();
  });

  it('returns null for an unterminated key', () => {
    expect(findDuplicateKey('{"a":1,"b')).toBeNull();
  });

  it('scans a deeply nested body without recursion', () => {
    const depth = 100_000;

    expect(findDuplicateKey('{"a":'.repeat(depth) + '1' + '}'.repeat(depth))).toBeNull();
  });

  it('finds none in any serialized value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(findDuplicateKey(JSON.stringify(value))).toBeNull();
      }),
    );
  });

  it('finds a key repeated in a serialized object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }), fc.nat(), fc.jsonValue(), (object, pick, repeated) => {
        const keys = Object.keys(object);
        const key = keys[pick % keys.length];
        const text = JSON.stringify(object);
        const withDuplicate = `${text.slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(repeated)}}`;

        expect(findDuplicateKey(withDuplicate)).toBe(key);
      }),
    );
  });
});
