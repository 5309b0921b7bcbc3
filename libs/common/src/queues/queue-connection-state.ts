import type { Queue } from 'bullmq';

/**
 * Whether a queue's Redis connection is ready at this moment, read without
 * waiting. Producers check it before adding a job: BullMQ makes `add()` wait
 * for a connection that has not been ready since start-up, and a producer that
 * must not wait on Redis skips the add instead.
 */
export class QueueConnectionState {
  private client: { status: string } | null = null;

  constructor(queue: Queue) {
    // The client exists once the connection was first ready; until then the queue counts as not ready.
    queue.getBackend().client.then(
      (client) => {
        this.client = client;
      },
      () => undefined,
    );
  }

  get ready(): boolean {
    return this.client?.status === 'ready';
  }
}

/** Reject with a timeout error when `promise` has not settled after `timeoutMs`; the work itself is not cancelled. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  });

  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
