import { secondsText } from './seconds-text';

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
