/** The zone of a tenant that never set one: the platform's home market. */
export const DEFAULT_TIME_ZONE = 'America/Chicago';

export type InvoiceNumberMode = 'test' | 'live';

/**
 * `INV-2026-00042`: the year, then the sequence zero-padded to at least five
 * digits; past 99999 it simply grows to six (`INV-2026-100000`).
 */
export function formatInvoiceNumber(year: number, sequence: number): string {
  if (!Number.isInteger(year) || year < 1000 || year > 9999) {
    throw new RangeError(`Invoice year must be a four-digit integer, got ${year}`);
  }
  if (!Number.isSafeInteger(sequence) || sequence < 1) {
    throw new RangeError(`Invoice sequence must be a positive integer, got ${sequence}`);
  }

  return `INV-${year}-${String(sequence).padStart(5, '0')}`;
}

/**
 * One date formatter per time zone, because building an Intl.DateTimeFormat
 * costs about 25 times more than formatting with it (Node.js 20), and every
 * issued invoice needs its year and due date. Only zones the runtime accepts
 * are stored, so the IANA zone list bounds the map.
 */
const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** Return the formatter of `timeZone`. Throws RangeError for a zone the runtime does not know. */
function dateFormatFor(timeZone: string): Intl.DateTimeFormat {
  let format = dateFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dateFormats.set(timeZone, format);
  }

  return format;
}

/** Returns the tenant's own zone when the runtime's Intl supports it, else the default. */
export function resolveTimeZone(timeZone: string | null | undefined): string {
  if (!timeZone) {
    return DEFAULT_TIME_ZONE;
  }

  try {
    dateFormatFor(timeZone);

    return timeZone;
  } catch {
    return DEFAULT_TIME_ZONE;
  }
}

/** Returns the calendar date of an instant in a time zone, as numbers. */
export function calendarDateInZone(instant: Date, timeZone: string): { year: number; month: number; day: number } {
  const parts = dateFormatFor(timeZone).formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((candidate) => candidate.type === type)?.value);

  return { year: part('year'), month: part('month'), day: part('day') };
}

/** Returns the calendar year of an instant in a time zone: 2026-12-31 23:30 in Chicago is 2027 in UTC but 2026 in Chicago. */
export function calendarYearInZone(instant: Date, timeZone: string): number {
  return calendarDateInZone(instant, timeZone).year;
}

/** `YYYY-MM-DD` of an instant in a time zone. */
export function isoDateInZone(instant: Date, timeZone: string): string {
  const { year, month, day } = calendarDateInZone(instant, timeZone);

  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** Adds whole days to a `YYYY-MM-DD` calendar date, across month and year ends. */
export function addDaysToIsoDate(isoDate: string, days: number): string {
  const date = new Date(`${isoDate}T00:00:00.000Z`);
  date.setUTCDate(date.getUTCDate() + days);

  return date.toISOString().slice(0, 10);
}
