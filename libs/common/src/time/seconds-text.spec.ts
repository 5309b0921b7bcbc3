import { durationText, secondsText } from './seconds-text';

describe('secondsText', () => {
  it.each([
    [0, '0 seconds'],
    [1, '1 second'],
    [2, '2 seconds'],
    [60, '60 seconds'],
  ])('formats %i', (seconds, text) => {
    expect(secondsText(seconds)).toBe(text);
  });
});

describe('durationText', () => {
  it.each([
    [0, '0 seconds'],
    [1, '1 second'],
    [59, '59 seconds'],
    [60, '1 minute'],
    [61, '61 seconds'],
    [119, '119 seconds'],
    [120, '2 minutes'],
    [121, '3 minutes'],
    [866, '15 minutes'],
    [900, '15 minutes'],
    [3_540, '59 minutes'],
    [3_541, '1 hour'],
    [3_600, '1 hour'],
    [5_400, '1 hour and 30 minutes'],
    [5_460, '1 hour and 31 minutes'],
    [7_200, '2 hours'],
    [86_400, '24 hours'],
  ])('formats %i seconds', (seconds, text) => {
    expect(durationText(seconds)).toBe(text);
  });

  it('rounds up by less than a minute', () => {
    for (let seconds = 0; seconds <= 7_200; seconds++) {
      const [count, unit] = durationText(seconds).split(' ');
      const hours = /^hours?$/.test(unit) ? Number(count) : 0;
      const minutesMatch = /(\d+) minutes?$/.exec(durationText(seconds));
      const shownSeconds = /^seconds?$/.test(unit) ? Number(count) : hours * 3_600 + Number(minutesMatch?.[1] ?? 0) * 60;

      expect(shownSeconds).toBeGreaterThanOrEqual(seconds);
      expect(shownSeconds - seconds).toBeLessThan(60);
    }
  });
});
