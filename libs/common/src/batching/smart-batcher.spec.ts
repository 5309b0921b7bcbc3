import { SmartBatcher } from './smart-batcher';

/** Build a batch runner whose batches finish only when the test calls finish or fail. */
function heldRunner() {
  const calls: { key: string; requests: number[]; finish(): void; fail(error: unknown): void }[] = [];
  const run = (key: string, requests: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      calls.push({ key, requests, finish: () => resolve(requests.map((value) => value * 10)), fail: reject });
    });

  return { calls, run };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('SmartBatcher', () => {
  it('runs requests of one turn together', async () => {
    const run = jest.fn(async (_key: string, requests: number[]) => requests.map((value) => value * 10));
    const batcher = new SmartBatcher(run, { maxSize: 10, maxConcurrent: 1 });

    const results = await Promise.all([batcher.submit('a', 1), batcher.submit('a', 2), batcher.submit('a', 3)]);

    expect(results).toEqual([10, 20, 30]);
    expect(run.mock.calls).toEqual([['a', [1, 2, 3]]]);
  });

  it('keeps keys in separate batches', async () => {
    const run = jest.fn(async (key: string, requests: number[]) => requests.map((value) => `${key}${value}`));
    const batcher = new SmartBatcher(run, { maxSize: 10, maxConcurrent: 1 });

    const results = await Promise.all([batcher.submit('a', 1), batcher.submit('b', 2), batcher.submit('a', 3)]);

    expect(results).toEqual(['a1', 'b2', 'a3']);
    expect(run).toHaveBeenCalledWith('a', [1, 3]);
    expect(run).toHaveBeenCalledWith('b', [2]);
  });

  it('collects requests while the batches run', async () => {
    const { calls, run } = heldRunner();
    const batcher = new SmartBatcher(run, { maxSize: 10, maxConcurrent: 1 });

    const first = batcher.submit('a', 1);
    await nextTurn();
    const later = [batcher.submit('a', 2), batcher.submit('a', 3)];
    await nextTurn();
    await nextTurn();

    expect(calls.map((call) => call.requests)).toEqual([[1]]);

    calls[0].finish();
    await expect(first).resolves.toBe(10);
    await nextTurn();

    expect(calls.map((call) => call.requests)).toEqual([[1], [2, 3]]);
    calls[1].finish();
    await expect(Promise.all(later)).resolves.toEqual([20, 30]);
  });

  it('runs up to maxConcurrent batches of a key at once', async () => {
    const { calls, run } = heldRunner();
    const batcher = new SmartBatcher(run, { maxSize: 10, maxConcurrent: 2 });

    const pending = [batcher.submit('a', 1)];
    await nextTurn();
    pending.push(batcher.submit('a', 2));
    await nextTurn();
    pending.push(batcher.submit('a', 3), batcher.submit('a', 4));
    await nextTurn();

    expect(calls.map((call) => call.requests)).toEqual([[1], [2]]);

    calls[1].finish();
    await nextTurn();
    await nextTurn();

    expect(calls.map((call) => call.requests)).toEqual([[1], [2], [3, 4]]);
    calls[0].finish();
    calls[2].finish();
    await expect(Promise.all(pending)).resolves.toEqual([10, 20, 30, 40]);
  });

  it('splits a turn larger than maxSize', async () => {
    const run = jest.fn(async (_key: string, requests: number[]) => requests);
    const batcher = new SmartBatcher(run, { maxSize: 2, maxConcurrent: 2 });

    await Promise.all([1, 2, 3, 4, 5].map((value) => batcher.submit('a', value)));

    expect(run.mock.calls).toEqual([
      ['a', [1, 2]],
      ['a', [3, 4]],
      ['a', [5]],
    ]);
  });

  it('rejects every request of a failed batch and runs the next', async () => {
    const { calls, run } = heldRunner();
    const batcher = new SmartBatcher(run, { maxSize: 10, maxConcurrent: 1 });
    const failure = new Error('connection terminated');

    const failed = [batcher.submit('a', 1), batcher.submit('a', 2)];
    await nextTurn();
    const next = batcher.submit('a', 3);
    calls[0].fail(failure);

    await expect(Promise.allSettled(failed)).resolves.toEqual([
      { status: 'rejected', reason: failure },
      { status: 'rejected', reason: failure },
    ]);
    await nextTurn();
    calls[1].finish();
    await expect(next).resolves.toBe(30);
  });

  it('rejects a batch whose result count is wrong', async () => {
    const batcher = new SmartBatcher<number, number>(async () => [1], { maxSize: 10, maxConcurrent: 1 });

    const results = await Promise.allSettled([batcher.submit('a', 1), batcher.submit('a', 2)]);

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('Batch of key a returned 1 results for 2 requests');
  });

  it('rejects invalid limits', () => {
    const run = async (_key: string, requests: number[]) => requests;

    expect(() => new SmartBatcher(run, { maxSize: 0, maxConcurrent: 1 })).toThrow('SmartBatcher maxSize must be a positive integer, got 0');
    expect(() => new SmartBatcher(run, { maxSize: 1, maxConcurrent: 1.5 })).toThrow('SmartBatcher maxConcurrent must be a positive integer, got 1.5');
  });
});
