/**
 * An ISO 8601 date alone, or a date and time that names its UTC offset (`Z`,
 * `+01:00`, `-0500`). JavaScript reads a date and time without an offset in
 * the machine's time zone, so the same filter would select other events on
 * another host.
 */
export const INSTANT_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}(?:T[^Zz+-]+(?:[Zz]|[+-]\d{2}(?::?\d{2})?))?$/;

export const INSTANT_MESSAGE = 'must be an ISO 8601 time with its UTC offset, such as 2026-12-04T03:00:00Z';
