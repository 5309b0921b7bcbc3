import {
  DEFAULT_TIME_ZONE,
  addDaysToIsoDate,
  calendarDateInZone,
  calendarYearInZone,
  formatInvoiceNumber,
  isoDateInZone,
  resolveTimeZone,
} from './invoice-number';

describe('formatInvoiceNumber', () => {
  it('pads the first number to five digits', () => {
    expect(formatInvoiceNumber(2026, 1)).toBe('INV-2026-00001');
  });

  it('keeps five digits at 99999', () => {
    expect(formatInvoiceNumber(2026, 99_999)).toBe('INV-2026-99999');
  });

  it('grows to six digits at 100000', () => {
    expect(formatInvoiceNumber(2026, 100_000)).toBe('INV-2026-100000');
  });

  it('rejects a sequence of zero', () => {
    expect(() => formatInvoiceNumber(2026, 0)).toThrow(RangeError);
  });

  it('rejects a fractional sequence', () => {
    expect(() => formatInvoiceNumber(2026, 1.5)).toThrow(RangeError);
  });

  it('rejects a two-digit year', () => {
    expect(() => formatInvoiceNumber(26, 1)).toThrow(RangeError);
  });
});

describe('calendarYearInZone', () => {
  // 2026-12-31 23:30 in Chicago (UTC-6 in winter) is 2027-01-01 05:30 UTC.
  const newYearsEveChicago = new Date('2027-01-01T05:30:00.000Z');

  it('keeps New Year\'s Eve 23:30 in Chicago in the old year', () => {
    expect(calendarYearInZone(newYearsEveChicago, 'America/Chicago')).toBe(2026);
  });

  it('puts the same instant in the new year in UTC', () => {
    expect(calendarYearInZone(newYearsEveChicago, 'UTC')).toBe(2027);
  });

  it('moves to the new year at midnight in Chicago', () => {
    expect(calendarYearInZone(new Date('2027-01-01T06:00:00.000Z'), 'America/Chicago')).toBe(2027);
  });

  it('is already the new year in Tokyo while Chicago is not', () => {
    expect(calendarYearInZone(new Date('2026-12-31T16:00:00.000Z'), 'Asia/Tokyo')).toBe(2027);
  });
});

describe('isoDateInZone', () => {
  it('gives the Chicago date of an early UTC morning', () => {
    expect(isoDateInZone(new Date('2027-01-01T05:30:00.000Z'), 'America/Chicago')).toBe('2026-12-31');
  });
});

describe('calendarDateInZone', () => {
  // Formatters are reused per zone, so interleaved zones must still each get their own date.
  const instant = new Date('2026-12-31T16:00:00.000Z');

  it('keeps each zone apart across repeated calls', () => {
    for (let call = 0; call < 3; call++) {
      expect(calendarDateInZone(instant, 'Asia/Tokyo')).toEqual({ year: 2027, month: 1, day: 1 });
      expect(calendarDateInZone(instant, 'America/Chicago')).toEqual({ year: 2026, month: 12, day: 31 });
      expect(calendarDateInZone(instant, 'UTC')).toEqual({ year: 2026, month: 12, day: 31 });
    }
  });

  it('rejects an unknown zone on every call', () => {
    expect(() => calendarDateInZone(instant, 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(() => calendarDateInZone(instant, 'Mars/Olympus_Mons')).toThrow(RangeError);
  });
});

describe('resolveTimeZone', () => {
  it('keeps a known zone', () => {
    expect(resolveTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
  });

  it('falls back to Chicago for a missing zone', () => {
    expect(resolveTimeZone(null)).toBe(DEFAULT_TIME_ZONE);
  });

  it('falls back to Chicago for an unknown zone', () => {
    expect(resolveTimeZone('Mars/Olympus_Mons')).toBe(DEFAULT_TIME_ZONE);
  });

  it('falls back again for an unknown zone seen before', () => {
    resolveTimeZone('Mars/Olympus_Mons');

    expect(resolveTimeZone('Mars/Olympus_Mons')).toBe(DEFAULT_TIME_ZONE);
  });
});

describe('addDaysToIsoDate', () => {
  it('adds 30 days across a year end', () => {
    expect(addDaysToIsoDate('2026-12-15', 30)).toBe('2027-01-14');
  });

  it('lands on the 29th of February in a leap year', () => {
    expect(addDaysToIsoDate('2028-02-28', 1)).toBe('2028-02-29');
  });
});
