import { invalidRequest } from './errors';

// ISO 4217 codes of the presentment currencies Stripe lists for card payments.
const SUPPORTED_CURRENCIES = new Set(
  (
    'usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn bzd ' +
    'cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq ' +
    'gyd hkd hnl htg huf idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr lrd lsl mad ' +
    'mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln ' +
    'pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs top try ttd twd tzs ' +
    'uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw ' +
    // Three-decimal currencies, which Stripe accepts in amounts whose last digit is 0.
    'bhd jod kwd omr tnd'
  ).split(' '),
);

// Currencies whose amounts are whole units (no minor unit), so 500 JPY is sent as 500.
const ZERO_DECIMAL_CURRENCIES = new Set('bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf'.split(' '));

// Minimum charge amounts in the currency's smallest unit, from Stripe's "minimum and maximum
// charge amounts" table. Currencies missing here are not checked.
const MINIMUM_CHARGE_AMOUNTS: Record<string, number> = {
  usd: 50,
  aed: 200,
  aud: 50,
  bgn: 100,
  brl: 50,
  cad: 50,
  chf: 50,
  czk: 1500,
  dkk: 250,
  eur: 50,
  gbp: 30,
  hkd: 400,
  huf: 17500,
  inr: 50,
  jpy: 50,
  mxn: 1000,
  myr: 200,
  nok: 300,
  nzd: 50,
  pln: 200,
  ron: 200,
  sek: 300,
  sgd: 50,
  thb: 1000,
};

// Stripe's maximum for a single charge (eight digits in the smallest unit).
const MAXIMUM_CHARGE_AMOUNT = 99_999_999;

const SYMBOLS: Record<string, string> = { usd: '$', eur: '€', gbp: '£', jpy: '¥', inr: '₹' };

/** Lower-cases and validates a currency parameter, raising Stripe's 400 for unknown codes. */
export function normalizeCurrency(value: string, param = 'currency'): string {
  const currency = value.toLowerCase();
  if (!SUPPORTED_CURRENCIES.has(currency)) {
    throw invalidRequest(
      `Invalid currency: ${currency}. Stripe currently supports these currencies: ${[...SUPPORTED_CURRENCIES].join(', ')}`,
      { param },
    );
  }
  return currency;
}

/** Formats an amount as Stripe's messages do, e.g. `$10.00` or `500 JPY`. */
export function formatAmount(amount: number, currency: string): string {
  const value = ZERO_DECIMAL_CURRENCIES.has(currency) ? String(amount) : (amount / 100).toFixed(2);
  const symbol = SYMBOLS[currency];
  return symbol ? `${symbol}${value}` : `${value} ${currency.toUpperCase()}`;
}

/** Raises Stripe's `amount_too_small` / `amount_too_large` errors for a charge amount. */
export function checkChargeAmount(amount: number, currency: string): void {
  const minimum = MINIMUM_CHARGE_AMOUNTS[currency];
  if (minimum !== undefined && amount < minimum) {
    throw invalidRequest(`Amount must be at least ${formatAmount(minimum, currency)} ${currency}`, {
      code: 'amount_too_small',
      param: 'amount',
    });
  }
  if (amount > MAXIMUM_CHARGE_AMOUNT) {
    throw invalidRequest(`Amount must be no more than ${formatAmount(MAXIMUM_CHARGE_AMOUNT, currency)}`, {
      code: 'amount_too_large',
      param: 'amount',
    });
  }
}
