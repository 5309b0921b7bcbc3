import { BatchRunner, PendingRequest, runBatch } from './batch-runner';

/** Limits of a SmartBatcher: requests per batch, and batches of one key running at once. */
export interface SmartBatcherOptions {
  maxSize: number;
  maxConcurrent: number;
}

interface KeyState<Request, Result> {
  waiting: PendingRequest<Request, Result>[];
  running: number;
  scheduled: boolean;
}

/**
 * Groups requests of one key without a timer ("smart batching"). A batch
 * starts at the end of the current event-loop turn when fewer than
 * `maxConcurrent` batches of its key run. Requests that arrive while they all
 * run wait for the next free slot and go together. So an idle service adds
 * no delay, a busy one sends one statement for many requests, and the batch
 * size follows the load.
 *
 * `run` returns one result per request in order, and a
 * thrown error rejects every request of its batch.
 */
export class SmartBatcher<Request, Result> {
  private readonly keys = new Map<string, KeyState<Request, Result>>();

  constructor(
    private readonly run: BatchRunner<Request, Result>,
    private readonly options: SmartBatcherOptions,
  ) {
    if (!Number.isInteger(options.maxSize) || options.maxSize < 1) {
      throw new Error(`SmartBatcher maxSize must be a positive integer, got ${options.maxSize}`);
    }
    if (!Number.isInteger(options.maxConcurrent) || options.maxConcurrent < 1) {
      throw new Error(`SmartBatcher maxConcurrent must be a positive integer, got ${options.maxConcurrent}`);
    }
  }

  /** Queue a request under `key` and resolve with its result once its batch has run. */
  submit(key: string, request: Request): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let state = this.keys.get(key);
      if (!state) {
        state = { waiting: [], running: 0, scheduled: false };
        this.keys.set(key, state);
      }

      state.waiting.push({ request, resolve, reject });
      this.schedule(key, state);
    });
  }

  /**
   * Start the next batch in the check phase of this turn, so every request
   * whose socket was read in the same poll phase joins it.
   */
  private schedule(key: string, state: KeyState<Request, Result>): void {
    if (state.scheduled || state.running >= this.options.maxConcurrent || state.waiting.length === 0) {
      return;
    }

    state.scheduled = true;
    setImmediate(() => {
      state.scheduled = false;
      this.startBatch(key, state);
    });
  }

  private startBatch(key: string, state: KeyState<Request, Result>): void {
    if (state.running >= this.options.maxConcurrent || state.waiting.length === 0) {
      return;
    }

    const batch = state.waiting.splice(0, this.options.maxSize);
    state.running++;
    void runBatch(this.run, key, batch).finally(() => {
      state.running--;
      if (state.running === 0 && state.waiting.length === 0) {
        this.keys.delete(key);
      } else {
        this.schedule(key, state);
      }
    });

    // A full batch leaves more waiting: fill the other free slots in this turn.
    this.schedule(key, state);
  }
}
