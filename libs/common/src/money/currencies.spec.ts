import fc from 'fast-check';
import { MAXIMUM_AMOUNT, checkChargeAmount, currencyInfo, supportedCurrencies } from './currencies';

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

  it('names the maximum for an integer beyond 2^53', () => {
    expect(checkChargeAmount(1e20, 'usd')).toBe(`must be at most ${MAXIMUM_AMOUNT} (Stripe's maximum charge)`);
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

describe('currency table against Stripe\'s lists', () => {
  it.each(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf'])(
    'treats %s as zero-decimal',
    (code) => {
      expect(currencyInfo(code)?.exponent).toBe(0);
    },
  );

  it.each(['bhd', 'jod', 'kwd', 'omr', 'tnd'])('treats %s as three-decimal in steps of 10', (code) => {
    expect(currencyInfo(code)).toMatchObject({ exponent: 3, amountStep: 10 });
  });

  it('keeps isk two-decimal in steps of 100', () => {
    expect(currencyInfo('isk')).toMatchObject({ exponent: 2, amountStep: 100 });
  });

  it('leaves the minimum to Stripe where its table lists none', () => {
    expect(currencyInfo('idr')?.minimumAmount).toBeNull();
  });

  it('rejects isk amounts with fractional krónur', () => {
    expect(checkChargeAmount(12_345, 'isk')).toMatch(/multiple of 100/);
  });

  it('accepts isk in whole krónur', () => {
    expect(checkChargeAmount(12_300, 'isk')).toBeNull();
  });

  it('accepts a jpy amount at the maximum', () => {
    expect(checkChargeAmount(MAXIMUM_AMOUNT, 'jpy')).toBeNull();
  });
});

describe('checkChargeAmount properties', () => {
  const codes = supportedCurrencies();
  const anyCurrency = fc.constantFrom(...codes);

  /** The rule written out plainly, to compare the implementation with. */
  function chargeable(amount: number, currency: string): boolean {
    const info = currencyInfo(currency);
    if (!info || !Number.isSafeInteger(amount) || amount <= 0 || amount > MAXIMUM_AMOUNT) {
      return false;
    }

    return amount % info.amountStep === 0 && (info.minimumAmount === null || amount >= info.minimumAmount);
  }

  it('accepts exactly the amounts the rule allows', () => {
    const amounts = fc.oneof(
      fc.integer({ min: -1_000, max: 2_000 }),
      fc.integer({ min: MAXIMUM_AMOUNT - 1_000, max: MAXIMUM_AMOUNT + 1_000 }),
      fc.integer(),
      fc.double({ noNaN: false }),
    );
    fc.assert(
      fc.property(amounts, anyCurrency, (amount, currency) => {
        expect(checkChargeAmount(amount, currency) === null).toBe(chargeable(amount, currency));
      }),
      { numRuns: 2_000 },
    );
  });

  it('rejects every fractional amount as not an integer', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e9, max: 1e9, noNaN: true }).filter((amount) => !Number.isInteger(amount)),
        anyCurrency,
        (amount, currency) => {
          expect(checkChargeAmount(amount, currency)).toMatch(/positive integer/);
        },
      ),
    );
  });

  it('rejects every amount of zero or less', () => {
    fc.assert(
      fc.property(fc.integer({ max: 0 }), anyCurrency, (amount, currency) => {
        expect(checkChargeAmount(amount, currency)).toMatch(/positive integer/);
      }),
    );
  });

  it('rejects every amount above Stripe\'s maximum', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAXIMUM_AMOUNT + 1, max: Number.MAX_SAFE_INTEGER }), anyCurrency, (amount, currency) => {
        expect(checkChargeAmount(amount, currency)).toMatch(/at most 99999999/);
      }),
    );
  });

  it('rejects every currency code outside the table', () => {
    fc.assert(
      fc.property(
        fc.string().filter((code) => !codes.includes(code)),
        fc.integer({ min: 1_000, max: 100_000 }),
        (currency, amount) => {
          expect(checkChargeAmount(amount, currency)).toMatch(/not supported/);
        },
      ),
    );
  });

  it('accepts every amount from the listed minimum up in usd', () => {
    fc.assert(
      fc.property(fc.integer({ min: 50, max: MAXIMUM_AMOUNT }), (amount) => {
        expect(checkChargeAmount(amount, 'usd')).toBeNull();
      }),
    );
  });
});
