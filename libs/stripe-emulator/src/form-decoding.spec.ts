import { StripeApiError } from './errors';
import { canonicalForm, decodeForm, splitFormKey } from './form-decoding';
import { mergeMetadata, param, parseParams } from './params';

function errorOf(action: () => unknown): StripeApiError {
  try {
    action();
  } catch (error) {
    if (error instanceof StripeApiError) {
      return error;
    }
    throw error;
  }
  throw new Error('Expected a StripeApiError');
}

describe('splitFormKey', () => {
  it.each([
    ['amount', ['amount']],
    ['metadata[classId]', ['metadata', 'classId']],
    ['payment_method_types[0]', ['payment_method_types', '0']],
    ['a[b][0][c]', ['a', 'b', '0', 'c']],
    ['expand[]', ['expand', '']],
  ])('splits %s', (key, segments) => {
    expect(splitFormKey(key)).toEqual(segments);
  });

  it('returns null for unbalanced brackets', () => {
    expect(splitFormKey('metadata[classId')).toBeNull();
    expect(splitFormKey('metadata]x[')).toBeNull();
  });
});

describe('decodeForm', () => {
  it('keeps parameters named like Object.prototype members as data', () => {
    expect(decodeForm('metadata[toString][0]=a&valueOf=b')).toEqual({ metadata: { toString: { '0': 'a' } }, valueOf: 'b' });
    expect(Object.getOwnPropertyNames(Object.prototype.toString)).toEqual(['length', 'name']);
  });

  it('decodes nested keys, arrays and percent-encoding', () => {
    const form = decodeForm(
      'amount=1000&metadata[classId]=yoga%20101&metadata%5Bnote%5D=a+b&payment_method_types[0]=card&expand[]=latest_charge&expand[]=payment_method',
    );
    expect(form).toEqual({
      amount: '1000',
      metadata: { classId: 'yoga 101', note: 'a b' },
      payment_method_types: { 0: 'card' },
      expand: { 0: 'latest_charge', 1: 'payment_method' },
    });
  });

  it('keeps empty values, which Stripe reads as "unset"', () => {
    expect(decodeForm('description=&metadata[drop]=')).toEqual({ description: '', metadata: { drop: '' } });
  });

  it('rejects a key used as both a string and a hash', () => {
    expect(errorOf(() => decodeForm('metadata[a]=1&metadata=x')).statusCode).toBe(400);
    expect(errorOf(() => decodeForm('amount=1&amount[x]=2')).statusCode).toBe(400);
  });

  it('rejects keys that would reach Object.prototype', () => {
    expect(errorOf(() => decodeForm('metadata[__proto__][polluted]=1')).statusCode).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('produces the same canonical form regardless of key order', () => {
    expect(canonicalForm(decodeForm('b=2&a[y]=1&a[x]=0'))).toBe(canonicalForm(decodeForm('a[x]=0&a[y]=1&b=2')));
  });
});

describe('parseParams', () => {
  const schema = {
    amount: param.integer({ min: 1 }),
    confirm: param.boolean(),
    capture_method: param.oneOf(['automatic', 'manual']),
    description: param.emptyable(param.string()),
    currency: param.string(),
    metadata: param.metadata(),
    types: param.array(param.string()),
    automatic_payment_methods: param.object({ enabled: param.boolean() }),
  } as const;

  it('returns typed values', () => {
    const params = parseParams(
      decodeForm(
        'amount=500&confirm=true&types[1]=link&types[0]=card&automatic_payment_methods[enabled]=false&description=',
      ),
      schema,
    );
    expect(params).toEqual({
      amount: 500,
      confirm: true,
      types: ['card', 'link'],
      automatic_payment_methods: { enabled: false },
      description: null,
    });
  });

  it.each([
    ['colour=blue', 'parameter_unknown', 'colour'],
    ['automatic_payment_methods[wobble]=1', 'parameter_unknown', 'automatic_payment_methods[wobble]'],
    ['amount=ten', 'parameter_invalid_integer', 'amount'],
    ['amount=0', 'parameter_invalid_integer', 'amount'],
    ['currency=', 'parameter_invalid_empty', 'currency'],
  ])('rejects %s with %s', (body, code, param) => {
    const error = errorOf(() => parseParams(decodeForm(body), schema));
    expect(error.statusCode).toBe(400);
    expect(error.body.code).toBe(code);
    expect(error.body.param).toBe(param);
  });

  it('names the allowed values of an enum', () => {
    const error = errorOf(() => parseParams(decodeForm('capture_method=later'), schema));
    expect(error.body.message).toBe('Invalid capture_method: must be one of automatic or manual');
  });

  it('rejects booleans other than true and false', () => {
    expect(errorOf(() => parseParams(decodeForm('confirm=yes'), schema)).body.param).toBe('confirm');
  });

  it('rejects a hash where an array is expected', () => {
    expect(errorOf(() => parseParams(decodeForm('types[first]=card'), schema)).body.param).toBe('types');
  });

  it('enforces metadata limits', () => {
    const longKey = 'k'.repeat(41);
    expect(errorOf(() => parseParams(decodeForm(`metadata[${longKey}]=v`), schema)).body.param).toBe(
      `metadata[${longKey}]`,
    );
    const manyKeys = Array.from({ length: 51 }, (_, index) => `metadata[k${index}]=v`).join('&');
    expect(errorOf(() => parseParams(decodeForm(manyKeys), schema)).body.param).toBe('metadata');
  });
});

describe('mergeMetadata', () => {
  it('merges keys, deletes empty values and clears on null', () => {
    expect(mergeMetadata({ a: '1', b: '2' }, { b: '', c: '3' })).toEqual({ a: '1', c: '3' });
    expect(mergeMetadata({ a: '1' }, null)).toEqual({});
    expect(mergeMetadata({ a: '1' }, undefined)).toEqual({ a: '1' });
  });
});
