/**
 * The currencies the service charges in, with their minor unit and Stripe's
 * minimum charge amount (in that minor unit), from Stripe's documentation on
 * currencies and minimum charge amounts (docs.stripe.com/currencies). One
 * table for the whole service: payments, refunds and invoices read it.
 */
export interface CurrencyInfo {
  code: string;
  /** Digits after the decimal point in the minor unit: 0 for jpy, 2 for usd, 3 for kwd. */
  exponent: 0 | 2 | 3;
  /**
   * Stripe's minimum charge, in the minor unit; null where Stripe sets none of
   * its own and requires the equivalent of the settlement currency's minimum
   * at the day's exchange rate, which only Stripe can check.
   */
  minimumAmount: number | null;
  /** Amounts must be a multiple of this: 10 for three-decimal currencies, 100 for isk, else 1. */
  amountStep: 1 | 10 | 100;
}

/** Stripe's largest amount for a charge: eight digits in the minor unit. */
export const MAXIMUM_AMOUNT = 99_999_999;

/** Stripe's presentment currencies for card payments. */
const STRIPE_CURRENCIES = (
  'usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd ' +
  'cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq ' +
  'gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad ' +
  'mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln ' +
  'pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs ' +
  'uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw'
).split(' ');

/** Amounts in these are whole units: 500 JPY is sent as 500. */
const ZERO_DECIMAL = ['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf'];

/** Three decimals; Stripe requires the last digit to be 0. */
const THREE_DECIMAL = ['bhd', 'jod', 'kwd', 'omr', 'tnd'];

/**
 * ISK stays two-decimal in Stripe's API, but since April 2023 Stripe accepts
 * only whole krónur in charges and refunds, so amounts are multiples of 100.
 */
const WHOLE_UNITS_ONLY = ['isk'];

/** Stripe's table of minimum charge amounts, in the minor unit. */
const MINIMUMS: Record<string, number> = {
  usd: 50, aed: 200, aud: 50, bgn: 100, brl: 50, cad: 50, chf: 50, czk: 1500, dkk: 250, eur: 50,
  gbp: 30, hkd: 400, huf: 17500, inr: 50, jpy: 50, mxn: 1000, myr: 200, nok: 300, nzd: 50,
  pln: 200, ron: 200, sek: 300, sgd: 50, thb: 1000,
};

function buildTable(): Map<string, CurrencyInfo> {
  const table = new Map<string, CurrencyInfo>();
  for (const code of STRIPE_CURRENCIES) {
    const exponent = ZERO_DECIMAL.includes(code) ? 0 : THREE_DECIMAL.includes(code) ? 3 : 2;
    const amountStep = exponent === 3 ? 10 : WHOLE_UNITS_ONLY.includes(code) ? 100 : 1;
    table.set(code, { code, exponent, minimumAmount: MINIMUMS[code] ?? null, amountStep });
  }

  return table;
}

const CURRENCIES = buildTable();

export function currencyInfo(code: string): CurrencyInfo | undefined {
  return CURRENCIES.get(code);
}

export function supportedCurrencies(): string[] {
  return [...CURRENCIES.keys()].sort();
}

/**
 * Returns a message fit for the client when the amount cannot be refunded or
 * charged in the currency regardless of minimums (unsupported currency, not
 * a positive integer, above the maximum, not a multiple of the currency's
 * step), or null when it can.
 */
export function checkAmount(amount: number, currency: string): string | null {
  const info = currencyInfo(currency);
  if (!info) {
    return `currency "${currency}" is not supported`;
  }
  const problem = checkAmountOfAnyCurrency(amount);
  if (problem !== null) {
    return problem;
  }
  if (info.amountStep === 10 && amount % 10 !== 0) {
    return `must be a multiple of 10 in ${currency}, as Stripe requires for three-decimal currencies`;
  }
  if (info.amountStep === 100 && amount % 100 !== 0) {
    return `must be a multiple of 100 in ${currency}, as Stripe accepts whole units only`;
  }

  return null;
}

/** Returns what is wrong with an amount whatever its currency (not a positive integer, over Stripe's maximum), or null. */
export function checkAmountOfAnyCurrency(amount: number): string | null {
  if (!Number.isInteger(amount) || amount <= 0) {
    return 'must be a positive integer in the currency\'s minor unit';
  }
  if (amount > MAXIMUM_AMOUNT) {
    return `must be at most ${MAXIMUM_AMOUNT} (Stripe's maximum charge)`;
  }

  return null;
}

/**
 * Returns a message fit for the client when the amount cannot be charged, or
 * null when it can: everything `checkAmount` checks, plus Stripe's minimum
 * charge where Stripe lists one for the currency.
 */
export function checkChargeAmount(amount: number, currency: string): string | null {
  const problem = checkAmount(amount, currency);
  if (problem !== null) {
    return problem;
  }

  const minimum = currencyInfo(currency)?.minimumAmount ?? null;
  if (minimum !== null && amount < minimum) {
    return `must be at least ${minimum} (Stripe's minimum charge in ${currency})`;
  }

  return null;
}
