import { Logger } from '@nestjs/common';
import { ScrapeSource } from './scrape-source';

function quietLogger(): Logger & { warn: jest.Mock } {
  return { warn: jest.fn() } as unknown as Logger & { warn: jest.Mock };
}

describe('ScrapeSource', () => {
  it('serves the cached value within the TTL', async () => {
    let now = 0;
    const load = jest.fn().mockResolvedValue(7);
    const source = new ScrapeSource({ name: 'test', load, cacheTtlMs: 5_000, timeoutMs: 1_000, logger: quietLogger(), now: () => now });

    await source.read();
    now = 4_999;
    const value = await source.read();

    expect(value).toBe(7);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('loads again after the TTL', async () => {
    let now = 0;
    const load = jest.fn().mockResolvedValueOnce(1).mockResolvedValueOnce(2);
    const source = new ScrapeSource({ name: 'test', load, cacheTtlMs: 5_000, timeoutMs: 1_000, logger: quietLogger(), now: () => now });

    await source.read();
    now = 5_000;

    expect(await source.read()).toBe(2);
  });

  it('shares one load between concurrent reads', async () => {
    const load = jest.fn().mockResolvedValue(3);
    const source = new ScrapeSource({ name: 'test', load, cacheTtlMs: 0, timeoutMs: 1_000, logger: quietLogger() });

    await Promise.all([source.read(), source.read(), source.read()]);

    expect(load).toHaveBeenCalledTimes(1);
  });

  it('resolves undefined when the load rejects', async () => {
    const source = new ScrapeSource({
      name: 'test',
      load: () => Promise.reject(new Error('connection refused')),
      cacheTtlMs: 5_000,
      timeoutMs: 1_000,
      logger: quietLogger(),
    });

    expect(await source.read()).toBeUndefined();
  });

  it('resolves undefined when the load times out', async () => {
    const source = new ScrapeSource({
      name: 'test',
      load: () => new Promise<number>(() => undefined),
      cacheTtlMs: 5_000,
      timeoutMs: 20,
      logger: quietLogger(),
    });

    expect(await source.read()).toBeUndefined();
  });

  it('does not cache a failure', async () => {
    const load = jest.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValueOnce(5);
    const source = new ScrapeSource({ name: 'test', load, cacheTtlMs: 5_000, timeoutMs: 1_000, logger: quietLogger() });

    await source.read();

    expect(await source.read()).toBe(5);
  });

  it('logs repeated failures once per minute', async () => {
    let now = 1_000;
    const logger = quietLogger();
    const source = new ScrapeSource({
      name: 'test',
      load: () => Promise.reject(new Error('down')),
      cacheTtlMs: 5_000,
      timeoutMs: 1_000,
      logger,
      now: () => now,
    });

    await source.read();
    now += 30_000;
    await source.read();
    expect(logger.warn).toHaveBeenCalledTimes(1);

    now += 30_000;
    await source.read();
    expect(logger.warn).toHaveBeenCalledTimes(2);
  });
});
