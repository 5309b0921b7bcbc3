import { MAXIMUM_AMOUNT, checkChargeAmount, currencyInfo } from './currencies';

describe('currency table', () => {
  it('knows jpy has no minor unit', () => {
    expect(currencyInfo('jpy')?.exponent).toBe(0);
  });

  it('knows kwd has three decimals', () => {
    expect(currencyInfo('kwd')?.exponent).toBe(3);
  });

  it('knows Stripe\'s usd minimum', () => {
    expect(currencyInfo('usd')?.minimumAmount).toBe(50);
  });
});

describe('checkChargeAmount', () => {
  it('accepts a usual usd amount', () => {
    expect(checkChargeAmount(8900, 'usd')).toBeNull();
  });

  it('rejects an amount below the minimum', () => {
    expect(checkChargeAmount(49, 'usd')).toMatch(/at least 50/);
  });

  it('rejects an amount above the maximum', () => {
    expect(checkChargeAmount(MAXIMUM_AMOUNT + 1, 'usd')).toMatch(/at most/);
  });

  it('rejects a fractional amount', () => {
    expect(checkChargeAmount(10.5, 'usd')).toMatch(/positive integer/);
  });

  it('rejects a negative amount', () => {
    expect(checkChargeAmount(-100, 'usd')).toMatch(/positive integer/);
  });

  it('rejects an unknown currency', () => {
    expect(checkChargeAmount(1000, 'xyz')).toMatch(/not supported/);
  });

  it('accepts 500 yen', () => {
    expect(checkChargeAmount(500, 'jpy')).toBeNull();
  });

  it('requires multiples of ten in three-decimal currencies', () => {
    expect(checkChargeAmount(1005, 'kwd')).toMatch(/multiple of 10/);
  });
});
