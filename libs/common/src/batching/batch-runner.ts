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
