import { MicroBatcher } from './micro-batcher';

describe('MicroBatcher', () => {
  it('runs requests of one key together', async () => {
    const run = jest.fn(async (_key: string, requests: number[]) => requests.map((value) => value * 10));
    const batcher = new MicroBatcher(run, { maxSize: 10, maxWaitMs: 5 });

    const results = await Promise.all([batcher.submit('a', 1), batcher.submit('a', 2), batcher.submit('a', 3)]);

    expect(results).toEqual([10, 20, 30]);
    expect(run).toHaveBeenCalledTimes(1);
    expect(run).toHaveBeenCalledWith('a', [1, 2, 3]);
  });

  it('keeps keys in separate batches', async () => {
    const run = jest.fn(async (key: string, requests: number[]) => requests.map((value) => `${key}${value}`));
    const batcher = new MicroBatcher(run, { maxSize: 10, maxWaitMs: 5 });

    const results = await Promise.all([batcher.submit('a', 1), batcher.submit('b', 2), batcher.submit('a', 3)]);

    expect(results).toEqual(['a1', 'b2', 'a3']);
    expect(run).toHaveBeenCalledTimes(2);
    expect(run).toHaveBeenCalledWith('a', [1, 3]);
    expect(run).toHaveBeenCalledWith('b', [2]);
  });

  it('runs a full batch without waiting', async () => {
    const run = jest.fn(async (_key: string, requests: number[]) => requests);
    // A wait far longer than the test's timeout: only the size can close this batch in time.
    const batcher = new MicroBatcher(run, { maxSize: 2, maxWaitMs: 60_000 });

    await expect(Promise.all([batcher.submit('a', 1), batcher.submit('a', 2)])).resolves.toEqual([1, 2]);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('opens a new batch after a full one', async () => {
    const run = jest.fn(async (_key: string, requests: number[]) => requests);
    const batcher = new MicroBatcher(run, { maxSize: 2, maxWaitMs: 1 });

    await Promise.all([batcher.submit('a', 1), batcher.submit('a', 2), batcher.submit('a', 3)]);

    expect(run.mock.calls).toEqual([
      ['a', [1, 2]],
      ['a', [3]],
    ]);
  });

  it('rejects every request of a failed batch', async () => {
    const failure = new Error('connection terminated');
    const batcher = new MicroBatcher<number, number>(() => Promise.reject(failure), { maxSize: 10, maxWaitMs: 1 });

    const results = await Promise.allSettled([batcher.submit('a', 1), batcher.submit('a', 2)]);

    expect(results).toEqual([
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
    ]);
  });

  it('leaves other batches alone when one fails', async () => {
    const batcher = new MicroBatcher<number, number>(
      async (key, requests) => {
        if (key === 'bad') {
          throw new Error('statement failed');
        }

        return requests;
      },
      { maxSize: 10, maxWaitMs: 1 },
    );

    const [good, bad] = await Promise.allSettled([batcher.submit('good', 1), batcher.submit('bad', 2)]);

    expect(good).toEqual({ status: 'fulfilled', value: 1 });
    expect(bad.status).toBe('rejected');
  });

  it('rejects a batch whose result count is wrong', async () => {
    const batcher = new MicroBatcher<number, number>(async () => [1], { maxSize: 10, maxWaitMs: 1 });

    const results = await Promise.allSettled([batcher.submit('a', 1), batcher.submit('a', 2)]);

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('Batch of key a returned 1 results for 2 requests');
  });

  it('rejects invalid limits', () => {
    const run = async (_key: string, requests: number[]) => requests;

    expect(() => new MicroBatcher(run, { maxSize: 0, maxWaitMs: 1 })).toThrow('MicroBatcher maxSize must be a positive integer, got 0');
    expect(() => new MicroBatcher(run, { maxSize: 1, maxWaitMs: -1 })).toThrow('MicroBatcher maxWaitMs must be zero or more, got -1');
  });
});
