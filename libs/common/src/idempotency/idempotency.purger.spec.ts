import { Logger } from '@nestjs/common';
import { IdempotencyPurger } from './idempotency.purger';
import { IdempotencyService } from './idempotency.service';

describe('IdempotencyPurger', () => {
  beforeAll(() => Logger.overrideLogger(false));

  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));

  it('deletes in batches until a batch is not full', async () => {
    const purgeExpired = jest.fn().mockResolvedValueOnce(1_000).mockResolvedValueOnce(1_000).mockResolvedValueOnce(7);
    const purger = new IdempotencyPurger({ purgeExpired } as unknown as IdempotencyService);

    expect(await purger.purge()).toBe(2_007);
    expect(purgeExpired).toHaveBeenCalledTimes(3);
  });

  it('reports what it deleted before a failure', async () => {
    const purgeExpired = jest.fn().mockResolvedValueOnce(1_000).mockRejectedValueOnce(new Error('connection terminated'));
    const purger = new IdempotencyPurger({ purgeExpired } as unknown as IdempotencyService);

    expect(await purger.purge()).toBe(1_000);
  });
});
