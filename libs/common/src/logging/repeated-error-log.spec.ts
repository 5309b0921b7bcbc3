import { Logger } from '@nestjs/common';
import { RepeatedErrorLog } from './repeated-error-log';

describe('RepeatedErrorLog', () => {
  let now: number;
  let warn: jest.Mock;
  let log: RepeatedErrorLog;

  beforeEach(() => {
    now = 1_000_000;
    warn = jest.fn();
    log = new RepeatedErrorLog({ warn } as unknown as Logger, 'connection error', 60_000, () => now);
  });

  it('logs the first error at once', () => {
    log.record(new Error('ECONNREFUSED'));

    expect(warn).toHaveBeenCalledWith({ err: { name: 'Error', message: 'ECONNREFUSED' }, suppressed: 0 }, 'connection error');
  });

  it('suppresses repeats within the interval', () => {
    log.record(new Error('first'));
    now += 59_999;
    log.record(new Error('second'));

    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('logs again after the interval with the suppressed count', () => {
    log.record(new Error('first'));
    now += 1_000;
    log.record(new Error('second'));
    log.record(new Error('third'));
    now += 60_000;
    log.record(new Error('fourth'));

    expect(warn).toHaveBeenLastCalledWith({ err: { name: 'Error', message: 'fourth' }, suppressed: 2 }, 'connection error');
  });
});
