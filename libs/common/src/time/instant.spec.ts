import { INSTANT_WITH_OFFSET } from './instant';

describe('INSTANT_WITH_OFFSET', () => {
  it.each(['2026-12-04', '2026-12-04T03:00:00Z', '2026-12-04T03:00:00.123Z', '2026-12-04T03:00:00+01:00', '2026-12-04T03:00-0500', '2026-12-04T03:00:00+01'])(
    'accepts %s',
    (value) => {
      expect(INSTANT_WITH_OFFSET.test(value)).toBe(true);
    },
  );

  it.each(['2026-12-04T03:00:00', '2026-12-04T03:00', '2026-12-04T03:00:00.5', '03:00:00Z', '2026-12-04 03:00:00Z'])('rejects %s', (value) => {
    expect(INSTANT_WITH_OFFSET.test(value)).toBe(false);
  });
});
