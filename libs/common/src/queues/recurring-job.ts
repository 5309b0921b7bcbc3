import { Logger } from '@nestjs/common';
import { JobsOptions, Queue } from 'bullmq';
import { describeError } from '../logging/error-description';

const SCHEDULE_RETRY_MS = 10_000;

/** A job that a BullMQ job scheduler adds to its queue every `everyMs`. */
export interface RecurringJobSpec {
  schedulerId: string;
  everyMs: number;
  jobName: string;
  /** Name of the job in log lines, such as "refund sweeper". */
  label: string;
  /** Options of each added job; one attempt, removed once it completes, by default. */
  jobOptions?: JobsOptions;
}

const DEFAULT_JOB_OPTIONS: JobsOptions = { attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } };

/**
 * Keeps one recurring job scheduled on a queue. `start` upserts the job
 * scheduler without waiting, so a worker starts while Redis is away, and
 * upserts it again whenever the queue's Redis connection becomes ready, since
 * a Redis that restarted empty has lost it. A failed upsert is retried every
 * 10 s until `stop`.
 */
export class RecurringJob {
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly queue: Queue,
    private readonly spec: RecurringJobSpec,
    private readonly logger: Logger,
  ) {}

  start(): void {
    void this.schedule();
    this.queue.getBackend().on('ready', () => {
      void this.schedule();
    });
  }

  stop(): void {
    this.stopped = true;
    this.clearRetry();
  }

  private async schedule(): Promise<void> {
    // A reconnect while a retry waits would otherwise leave two retries running.
    this.clearRetry();
    if (this.stopped) {
      return;
    }

    const { schedulerId, everyMs, jobName, label, jobOptions = DEFAULT_JOB_OPTIONS } = this.spec;
    try {
      await this.queue.upsertJobScheduler(schedulerId, { every: everyMs }, { name: jobName, data: {}, opts: jobOptions });
      this.logger.log({ schedulerId, everyMs }, `Scheduled the ${label}`);
    } catch (error) {
      if (this.stopped) {
        return;
      }

      this.logger.warn({ schedulerId, retryInMs: SCHEDULE_RETRY_MS, err: describeError(error) }, `Could not schedule the ${label}, retrying in 10 s`);
      this.retryTimer = setTimeout(() => void this.schedule(), SCHEDULE_RETRY_MS);
    }
  }

  private clearRetry(): void {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }
}
