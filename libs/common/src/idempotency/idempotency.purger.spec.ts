import { Logger } from '@nestjs/common';
import { ClsServiceManager } from 'nestjs-cls';
import { RequestContext } from '../context/request-context';
import { IdempotencyPurger } from './idempotency.purger';
import { IdempotencyService } from './idempotency.service';

describe('IdempotencyPurger', () => {
  beforeAll(() => Logger.overrideLogger(false));

  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));

  it('deletes in batches until a batch is not full', async () => {
    const purgeExpired = jest.fn().mockResolvedValueOnce(1_000).mockResolvedValueOnce(1_000).mockResolvedValueOnce(7);
    const purger = new IdempotencyPurger({ purgeExpired } as unknown as IdempotencyService, new RequestContext(ClsServiceManager.getClsService()));

    expect(await purger.purge()).toBe(2_007);
    expect(purgeExpired).toHaveBeenCalledTimes(3);
  });

  it('reports what it deleted before a failure', async () => {
    const purgeExpired = jest.fn().mockResolvedValueOnce(1_000).mockRejectedValueOnce(new Error('connection terminated'));
    const purger = new IdempotencyPurger({ purgeExpired } as unknown as IdempotencyService, new RequestContext(ClsServiceManager.getClsService()));

    expect(await purger.purge()).toBe(1_000);
  });

  it('purges in the idempotency-retention cross-tenant path', async () => {
    const context = new RequestContext(ClsServiceManager.getClsService());
    const paths: unknown[] = [];
    const purgeExpired = jest.fn(async () => {
      paths.push(context.crossTenantPath);

      return 0;
    });
    const purger = new IdempotencyPurger({ purgeExpired } as unknown as IdempotencyService, context);

    await purger.purge();

    expect(paths).toEqual(['idempotency-retention']);
  });
});
