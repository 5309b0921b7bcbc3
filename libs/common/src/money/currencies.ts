/**
 * The currencies the service charges in, with their minor unit and Stripe's
 * minimum charge amount (in that minor unit), from Stripe's documentation on
 * currencies and minimum charge amounts. One table for the whole service.
 */
export interface CurrencyInfo {
  code: string;
  /** Digits after the decimal point in the minor unit: 0 for jpy, 2 for usd, 3 for kwd. */
  exponent: 0 | 2 | 3;
  /** Stripe's minimum charge, in the minor unit. */
  minimumAmount: number;
}

/** Stripe's largest amount for a charge: eight digits in the minor unit. */
export const MAXIMUM_AMOUNT = 99_999_999;

const ZERO_DECIMAL = ['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf'];
const THREE_DECIMAL = ['bhd', 'jod', 'kwd', 'omr', 'tnd'];

/** Minimums Stripe lists; currencies not listed there settle through USD, so 50 US cents' worth is assumed. */
const MINIMUMS: Record<string, number> = {
  usd: 50, aed: 200, aud: 50, bgn: 100, brl: 50, cad: 50, chf: 50, czk: 1500, dkk: 250, eur: 50,
  gbp: 30, hkd: 400, huf: 17500, inr: 50, jpy: 50, mxn: 1000, myr: 200, nok: 300, nzd: 50,
  pln: 200, ron: 200, sek: 300, sgd: 50, thb: 1000,
};

const TWO_DECIMAL_EXTRA = ['cny', 'idr', 'ils', 'php', 'zar', 'try', 'twd', 'sar', 'qar', 'egp', 'kes', 'ngn', 'pkr', 'cop', 'pen', 'ars', 'uah', 'isk'];

function buildTable(): Map<string, CurrencyInfo> {
  const table = new Map<string, CurrencyInfo>();
  for (const code of [...Object.keys(MINIMUMS), ...TWO_DECIMAL_EXTRA]) {
    table.set(code, { code, exponent: 2, minimumAmount: MINIMUMS[code] ?? 50 });
  }
  for (const code of ZERO_DECIMAL) {
    table.set(code, { code, exponent: 0, minimumAmount: MINIMUMS[code] ?? (code === 'krw' ? 500 : 100) });
  }
  for (const code of THREE_DECIMAL) {
    table.set(code, { code, exponent: 3, minimumAmount: 500 });
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

/** Returns a message fit for the client when the amount cannot be charged, or null when it can. */
export function checkChargeAmount(amount: number, currency: string): string | null {
  const info = currencyInfo(currency);
  if (!info) {
    return `currency "${currency}" is not supported`;
  }
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    return 'must be a positive integer in the currency\'s minor unit';
  }
  if (amount < info.minimumAmount) {
    return `must be at least ${info.minimumAmount} (Stripe's minimum charge in ${currency})`;
  }
  if (amount > MAXIMUM_AMOUNT) {
    return `must be at most ${MAXIMUM_AMOUNT} (Stripe's maximum charge)`;
  }
  if (info.exponent === 3 && amount % 10 !== 0) {
    return `must be a multiple of 10 in ${currency}, as Stripe requires for three-decimal currencies`;
  }

  return null;
}
