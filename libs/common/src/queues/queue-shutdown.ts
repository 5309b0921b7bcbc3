import { WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { Queue, Worker } from 'bullmq';
import { describeError } from '../logging/error-description';

/**
 * How long a stopping worker waits for its running jobs. A job still running
 * then is cut off; its lock expires and BullMQ's stalled check on another
 * worker runs it again (handlers are idempotent).
 */
export const WORKER_SHUTDOWN_WAIT_MS = 30_000;
const POLL_MS = 50;

/** One worker and the jobs it is running, counted from its events. */
class TrackedWorker {
  running = 0;

  constructor(
    readonly queueName: string,
    readonly worker: Worker,
  ) {
    // BullMQ emits `completed` and `failed` after it has recorded the job's move in Redis.
    worker.on('active', () => this.running++);
    worker.on('completed', () => this.finished());
    worker.on('failed', () => this.finished());
  }

  private finished(): void {
    this.running = Math.max(0, this.running - 1);
  }
}

/** A queue whose shutdown hook @nestjs/bullmq 11 assigned to the instance. */
type QueueWithShutdownHook = Queue & { onApplicationShutdown?: (signal?: string) => Promise<void> };

/**
 * Shuts the process's BullMQ workers and queues down without losing jobs and
 * without hanging or failing while Redis is away.
 *
 * Workers: take no new jobs, wait for the running ones to complete or fail
 * (at most WORKER_SHUTDOWN_WAIT_MS), then close the connections. This runs
 * before the database and Redis connections close, so a job is never cut off
 * between its handler's commit and the record of its outcome. BullMQ's own
 * `Worker.close()` (6.7, with ioredis 5.11) never returns while the blocking
 * connection is reconnecting: it waits for an `end` event that ioredis does
 * not emit for a connection without a socket. Pausing touches no connection,
 * and a forced close does not wait for that event.
 *
 * Queues: the producers' connections have no offline queue, so BullMQ's
 * QUIT on close rejects while Redis is away, and @nestjs/bullmq's shutdown
 * hook would make the whole shutdown fail. The hook is wrapped so such a
 * queue is disconnected instead, with a warning.
 */
@Injectable()
export class QueueShutdownService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(QueueShutdownService.name);
  private workers: TrackedWorker[] = [];

  constructor(private readonly discovery: DiscoveryService) {}

  onApplicationBootstrap(): void {
    const instances = this.discovery.getProviders().map((wrapper) => wrapper.instance as unknown);
    this.workers = instances
      .filter((instance): instance is WorkerHost => instance instanceof WorkerHost)
      .flatMap((host) => {
        try {
          return [new TrackedWorker(host.worker.name, host.worker)];
        } catch {
          // A processor without a worker: its queue is not processed in this role.
          return [];
        }
      });

    for (const queue of instances.filter((instance): instance is QueueWithShutdownHook => instance instanceof Queue)) {
      this.guardShutdownHook(queue);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.map((tracked) => this.stop(tracked)));
  }

  private async stop(tracked: TrackedWorker, maxWaitMs = WORKER_SHUTDOWN_WAIT_MS): Promise<void> {
    const { queueName, worker } = tracked;
    await worker.pause(true);
    if (tracked.running > 0) {
      this.logger.log({ queue: queueName, runningJobs: tracked.running, maxWaitMs }, 'Worker stopping; waiting for running jobs');
    }

    const deadline = Date.now() + maxWaitMs;
    while (tracked.running > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }

    if (tracked.running > 0) {
      this.logger.warn({ queue: queueName, runningJobs: tracked.running, maxWaitMs }, 'Worker stopped with jobs still running; BullMQ runs them again as stalled');
    }

    await worker.close(true);
    this.logger.log({ queue: queueName }, 'Worker stopped');
  }

  private guardShutdownHook(queue: QueueWithShutdownHook): void {
    const original = queue.onApplicationShutdown;
    if (typeof original !== 'function') {
      return;
    }

    queue.onApplicationShutdown = async (signal?: string) => {
      try {
        await original.call(queue, signal);
      } catch (error) {
        this.logger.warn({ queue: queue.name, err: describeError(error) }, 'Queue connection could not close cleanly (Redis unavailable); disconnecting it');
        try {
          (await queue.getBackend().client).disconnect();
        } catch {
          // Nothing is left to close.
        }
      }
    };
  }
}
