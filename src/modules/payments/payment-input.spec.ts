import { CLIENT_METADATA_MAX_KEYS, checkPaymentInput } from './payment-input';

describe('checkPaymentInput', () => {
  it('accepts a usual payment', () => {
    expect(checkPaymentInput({ amount: 8900, currency: 'usd', metadata: { classId: 'cls_1' } })).toEqual([]);
  });

  it('rejects an amount below the usd minimum', () => {
    expect(checkPaymentInput({ amount: 49, currency: 'usd' })).toEqual([
      { field: 'amount', message: expect.stringMatching(/at least 50/) },
    ]);
  });

  it('rejects a fractional amount', () => {
    expect(checkPaymentInput({ amount: 100.5, currency: 'usd' })).toEqual([
      { field: 'amount', message: expect.stringMatching(/positive integer/) },
    ]);
  });

  it('rejects a zero amount', () => {
    expect(checkPaymentInput({ amount: 0, currency: 'usd' })[0].field).toBe('amount');
  });

  it('rejects an amount above the maximum', () => {
    expect(checkPaymentInput({ amount: 100_000_000, currency: 'usd' })[0].message).toMatch(/at most/);
  });

  it('accepts 50 yen', () => {
    expect(checkPaymentInput({ amount: 50, currency: 'jpy' })).toEqual([]);
  });

  it('names a bad amount beside an unsupported currency', () => {
    expect(checkPaymentInput({ amount: -5, currency: 'EUR' })).toEqual([
      { field: 'currency', message: expect.stringMatching(/not supported/) },
      { field: 'amount', message: "must be a positive integer in the currency's minor unit" },
    ]);
    expect(checkPaymentInput({ amount: 1.5, currency: 42 })).toEqual([{ field: 'amount', message: "must be a positive integer in the currency's minor unit" }]);
  });

  it('blames the currency when it is unsupported', () => {
    expect(checkPaymentInput({ amount: 1000, currency: 'xyz' })).toEqual([
      { field: 'currency', message: expect.stringMatching(/not supported/) },
    ]);
  });

  it('rejects a metadata value that is not a string', () => {
    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { seats: 2 } })).toEqual([
      { field: 'metadata.seats', message: 'must be a string' },
    ]);
  });

  it.each([' ', '\n\t', '\u00a0', '\u200b', '\u2060\ufeff'])('rejects a blank metadata value %j', (note) => {
    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { note } })).toEqual([{ field: 'metadata.note', message: 'must not be blank' }]);
  });

  it('accepts an empty metadata value', () => {
    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { note: '' } })).toEqual([]);
  });

  it.each(['', ' ', '\u200b', '\u0001'])('rejects a blank metadata key %j under metadata', (key) => {
    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { [key]: 'x' } })).toEqual([{ field: 'metadata', message: 'must not have a blank key' }]);
  });

  it('names blank metadata keys once', () => {
    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { ' ': 'x', '  ': 'y' } })).toEqual([{ field: 'metadata', message: 'must not have a blank key' }]);
  });

  it('rejects a key longer than 40 characters', () => {
    const key = 'k'.repeat(41);

    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { [key]: 'x' } })[0].field).toBe(`metadata.${key}`);
  });

  it('says an emoji counts as two in the metadata limits', () => {
    const key = '\u{1f600}'.repeat(21);

    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { [key]: 'x', note: '\u{1f600}'.repeat(251) } })).toEqual([
      { field: `metadata.${key}`, message: 'key must be at most 40 characters long (an emoji counts as two)' },
      { field: 'metadata.note', message: 'must be at most 500 characters long (an emoji counts as two)' },
    ]);
  });

  it('rejects a value longer than 500 characters', () => {
    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { note: 'x'.repeat(501) } })[0].message).toMatch(/at most 500/);
  });

  it('rejects square brackets in a key', () => {
    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { 'a[b]': 'x' } })[0].message).toMatch(/square brackets/);
  });

  it('rejects the service\'s own keys', () => {
    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: { billingPaymentId: 'x' } })[0].message).toMatch(/reserved/);
  });

  it('accepts as many keys as the service leaves free', () => {
    const metadata = Object.fromEntries(Array.from({ length: CLIENT_METADATA_MAX_KEYS }, (_, index) => [`k${index}`, 'v']));

    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata })).toEqual([]);
  });

  it('rejects one key more than that', () => {
    const metadata = Object.fromEntries(Array.from({ length: CLIENT_METADATA_MAX_KEYS + 1 }, (_, index) => [`k${index}`, 'v']));

    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata })).toEqual([
      { field: 'metadata', message: expect.stringMatching(/at most 48 keys/) },
    ]);
  });

  it('skips fields of the wrong type', () => {
    // The decorators report these, and the check runs beside them on the raw body.
    expect(checkPaymentInput({ amount: '1000', currency: 840, metadata: null })).toEqual([]);
    expect(checkPaymentInput({ amount: 1000, currency: 'usd', metadata: ['a'] })).toEqual([]);
  });
});
