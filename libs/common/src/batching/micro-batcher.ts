/** Limits of one batch: it runs once it contains `maxSize` requests, or `maxWaitMs` after its first request. */
export interface MicroBatcherOptions {
  maxSize: number;
  maxWaitMs: number;
}

/**
 * Runs one batch of requests with the same key and returns one result per
 * request, in the order of `requests`. A thrown error rejects every request of
 * the batch, so a caller that needs errors per request returns them as results.
 */
export type BatchRunner<Request, Result> = (key: string, requests: Request[]) => Promise<Result[]>;

/** A submitted request and the callbacks of its caller's promise. */
export interface PendingRequest<Request, Result> {
  request: Request;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

interface OpenBatch<Request, Result> {
  requests: PendingRequest<Request, Result>[];
  timer: NodeJS.Timeout;
}

/**
 * Collects requests that arrive close together under the same key and hands
 * them to `run` as one batch, so concurrent callers share one database round
 * trip and each still awaits its own result. A batch closes when it reaches
 * `maxSize` requests or `maxWaitMs` after its first request. Batches of one
 * key may run concurrently: a request arriving while a batch runs opens the
 * next one.
 */
export class MicroBatcher<Request, Result> {
  private readonly open = new Map<string, OpenBatch<Request, Result>>();

  constructor(
    private readonly run: BatchRunner<Request, Result>,
    private readonly options: MicroBatcherOptions,
  ) {
    if (!Number.isInteger(options.maxSize) || options.maxSize < 1) {
      throw new Error(`MicroBatcher maxSize must be a positive integer, got ${options.maxSize}`);
    }
    if (!(options.maxWaitMs >= 0)) {
      throw new Error(`MicroBatcher maxWaitMs must be zero or more, got ${options.maxWaitMs}`);
    }
  }

  /** Add a request to the open batch of `key` and resolve with its result once that batch has run. */
  submit(key: string, request: Request): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let batch = this.open.get(key);
      if (!batch) {
        const timer = setTimeout(() => this.close(key), this.options.maxWaitMs);
        batch = { requests: [], timer };
        this.open.set(key, batch);
      }

      batch.requests.push({ request, resolve, reject });
      if (batch.requests.length >= this.options.maxSize) {
        this.close(key);
      }
    });
  }

  private async close(key: string): Promise<void> {
    const batch = this.open.get(key);
    if (!batch) {
      return;
    }

    clearTimeout(batch.timer);
    this.open.delete(key);

    await runBatch(this.run, key, batch.requests);
  }
}

/**
 * Run one batch and settle every caller's promise: each with its own result,
 * or all with the error when `run` throws or returns a result count other
 * than the request count.
 */
export async function runBatch<Request, Result>(
  run: BatchRunner<Request, Result>,
  key: string,
  requests: PendingRequest<Request, Result>[],
): Promise<void> {
  let results: Result[];
  try {
    results = await run(
      key,
      requests.map((pending) => pending.request),
    );
  } catch (error) {
    for (const pending of requests) {
      pending.reject(error);
    }

    return;
  }

  if (results.length !== requests.length) {
    const error = new Error(`Batch of key ${key} returned ${results.length} results for ${requests.length} requests`);
    for (const pending of requests) {
      pending.reject(error);
    }

    return;
  }

  requests.forEach((pending, index) => pending.resolve(results[index]));
}
