import { loginWaitMs } from './login-rate-limiter';

const LIMIT = { limit: 10, windowSeconds: 900 };
const NOW = 1_000_000;

function waitAfter(failures: number, lastFailureAt = NOW, windowLeftMs = 600_000): number {
  return loginWaitMs({ failures, lastFailureAt, windowLeftMs }, LIMIT, NOW);
}

describe('loginWaitMs', () => {
  it('lets attempts through below half the limit', () => {
    expect(waitAfter(4)).toBe(0);
  });

  it('doubles the wait after each failure from half the limit', () => {
    expect([5, 6, 7, 8, 9].map((failures) => waitAfter(failures))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
  });

  it('counts the wait from the last failure', () => {
    expect(waitAfter(6, NOW - 1_500)).toBe(500);
    expect(waitAfter(6, NOW - 2_500)).toBe(0);
  });

  it('waits for the window to end at the limit', () => {
    expect(waitAfter(10, NOW, 123_000)).toBe(123_000);
  });

  it('never waits past the window', () => {
    expect(waitAfter(9, NOW, 3_000)).toBe(3_000);
  });

  it('keeps three free failures under a small limit', () => {
    const small = { limit: 4, windowSeconds: 60 };

    expect(loginWaitMs({ failures: 2, lastFailureAt: NOW, windowLeftMs: 60_000 }, small, NOW)).toBe(0);
    expect(loginWaitMs({ failures: 3, lastFailureAt: NOW, windowLeftMs: 60_000 }, small, NOW)).toBe(1_000);
  });

  it('lets attempts through once the window has ended', () => {
    expect(waitAfter(10, NOW, 0)).toBe(0);
  });
});
