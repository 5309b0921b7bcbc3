import { OUTBOX_EVENTS, WEBHOOK_EVENTS, addMonths, boundLiteral, monthOf, monthOfPartition, monthStart, partitionName } from './monthly-partitions';

describe('monthly partitions', () => {
  it('adds months across a year end', () => {
    expect(addMonths({ year: 2026, month: 11 }, 3)).toEqual({ year: 2027, month: 2 });
    expect(addMonths({ year: 2026, month: 1 }, -1)).toEqual({ year: 2025, month: 12 });
  });

  it('takes the month in UTC', () => {
    expect(monthOf(new Date('2026-11-30T23:59:59Z'))).toEqual({ year: 2026, month: 11 });
    expect(monthOf(new Date('2026-12-01T00:00:00Z'))).toEqual({ year: 2026, month: 12 });
  });

  it('names a partition and reads the name back', () => {
    const name = partitionName('webhook_events', { year: 2026, month: 3 });

    expect(name).toBe('webhook_events_p2026_03');
    expect(monthOfPartition('webhook_events', name)).toEqual({ year: 2026, month: 3 });
  });

  it.each(['webhook_events_default', 'webhook_events_p2026_13', 'webhook_events_p2026_03_old', 'outbox_events_p2026_03'])('ignores partition name %s', (name) => {
    expect(monthOfPartition('webhook_events', name)).toBeNull();
  });

  it('writes bounds in the key kind of the table', () => {
    const start = monthStart({ year: 2026, month: 12 });

    expect(boundLiteral(WEBHOOK_EVENTS, start)).toBe('1796083200');
    expect(boundLiteral(OUTBOX_EVENTS, start)).toBe(`'2026-12-01T00:00:00.000Z'`);
  });
});
