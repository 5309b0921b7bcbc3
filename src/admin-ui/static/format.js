// Formatting of money, dates and statuses for the admin pages, in the
// browser's locale.

/**
 * Currencies whose minor unit in the service's currency table
 * (libs/common/src/money/currencies.ts, which follows Stripe) has two digits
 * while Intl.NumberFormat gives them none (checked in Chromium 156 and
 * Node.js 20). Without these, such amounts would show 100 times too large.
 */
const SERVICE_MINOR_UNIT_DIGITS = new Map([
  ['cop', 2],
  ['huf', 2],
  ['idr', 2],
  ['isk', 2],
  ['pkr', 2],
]);

/**
 * Format an amount in the currency's minor unit (`2000` usd is $20.00, `500`
 * jpy is ¥500): divide by 10 to the power of the currency's fraction digits,
 * as Intl.NumberFormat gives them unless the service's table differs, then
 * format in that currency.
 */
export function formatMoney(amount, currency, locale = undefined) {
  let formatter;
  try {
    formatter = new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase() });
  } catch {
    return `${amount} ${currency}`;
  }

  const digits = SERVICE_MINOR_UNIT_DIGITS.get(currency.toLowerCase()) ?? formatter.resolvedOptions().maximumFractionDigits;

  return formatter.format(amount / 10 ** digits);
}

/** Format an ISO 8601 timestamp as a date and time in the browser's time zone. */
export function formatDateTime(iso, locale = undefined) {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** Format a calendar date (`YYYY-MM-DD`) as written, without shifting it into the browser's time zone. */
export function formatCalendarDate(date, locale = undefined) {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${date}T00:00:00Z`));
}

/** Label, badge tone and icon of each payment status. */
export const PAYMENT_STATUS = {
  processing: { label: 'Processing', tone: 'info', icon: 'clock' },
  requires_action: { label: 'Requires action', tone: 'warning', icon: 'alert' },
  failed: { label: 'Failed', tone: 'danger', icon: 'cross' },
  succeeded: { label: 'Succeeded', tone: 'success', icon: 'check' },
  partially_refunded: { label: 'Partially refunded', tone: 'neutral', icon: 'arrow' },
  refunded: { label: 'Refunded', tone: 'neutral', icon: 'arrow' },
};

/** Label, badge tone and icon of each invoice status. */
export const INVOICE_STATUS = {
  draft: { label: 'Draft', tone: 'neutral', icon: 'circle' },
  issuing: { label: 'Issuing', tone: 'info', icon: 'clock' },
  open: { label: 'Open', tone: 'info', icon: 'circle' },
  paid: { label: 'Paid', tone: 'success', icon: 'check' },
  void: { label: 'Void', tone: 'neutral', icon: 'cross' },
  uncollectible: { label: 'Uncollectible', tone: 'danger', icon: 'alert' },
};

/** Look up a status, falling back to the API's own word for a status this page does not know yet. */
export function describeStatus(table, status) {
  return table[status] ?? { label: status, tone: 'neutral', icon: 'circle' };
}

/** Return `url` when it is an http(s) URL, else null, so an odd value never becomes a javascript: link. */
export function safeHttpUrl(url) {
  if (typeof url !== 'string') {
    return null;
  }

  try {
    const parsed = new URL(url);

    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}
