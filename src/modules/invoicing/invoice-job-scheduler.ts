import { describeError } from '@app/common/logging/error-description';
import {
  JOB_MARK_OVERDUE_INVOICES,
  JOB_RECONCILE_INVOICES,
  JOB_SWEEP_INVOICE_JOBS,
  QUEUE_INVOICES,
} from '@app/common/queues/queue-names';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Queue, RepeatOptions } from 'bullmq';

const SCHEDULE_RETRY_MS = 10_000;

interface Schedule {
  schedulerId: string;
  jobName: string;
  repeat: Omit<RepeatOptions, 'key'>;
}

/**
 * The recurring invoice jobs. Job schedulers live in Redis, so they are upserted at every
 * worker start and every reconnect, and come back after Redis loses its data. Upserting an unchanged one is a no-op.
 */
export const INVOICE_SCHEDULES: readonly Schedule[] = [
  // Finds invoices whose job was never enqueued (Redis away at the commit).
  { schedulerId: JOB_SWEEP_INVOICE_JOBS, jobName: JOB_SWEEP_INVOICE_JOBS, repeat: { every: 30_000 } },
  // Hourly, so each tenant's invoices turn overdue within an hour of midnight in its own zone.
  { schedulerId: JOB_MARK_OVERDUE_INVOICES, jobName: JOB_MARK_OVERDUE_INVOICES, repeat: { pattern: '5 * * * *', tz: 'UTC' } },
  // Daily, at a quiet hour for the Americas and Europe.
  { schedulerId: JOB_RECONCILE_INVOICES, jobName: JOB_RECONCILE_INVOICES, repeat: { pattern: '30 3 * * *', tz: 'UTC' } },
];

/** Upserts the invoice job schedulers when a worker starts, retrying while Redis is away. */
@Injectable()
export class InvoiceJobScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InvoiceJobScheduler.name);
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(@InjectQueue(QUEUE_INVOICES) private readonly queue: Queue) {}

  onApplicationBootstrap(): void {
    // Not awaited: a worker starts while Redis is away and schedules once it is back.
    void this.schedule();
    // Again on every reconnect, since a Redis that restarted empty has lost the schedulers.
    this.queue.getBackend().on('ready', () => {
      void this.schedule();
    });
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
    }
  }

  private async schedule(): Promise<void> {
    try {
      for (const { schedulerId, jobName, repeat } of INVOICE_SCHEDULES) {
        await this.queue.upsertJobScheduler(schedulerId, repeat, {
          name: jobName,
          data: {},
          opts: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
        });
      }
      this.logger.log({ schedulers: INVOICE_SCHEDULES.map((schedule) => schedule.schedulerId) }, 'Invoice job schedulers upserted');
    } catch (error) {
      if (this.stopped) {
        return;
      }

      this.logger.warn({ retryInMs: SCHEDULE_RETRY_MS, err: describeError(error) }, 'Could not upsert the invoice job schedulers; retrying');
      this.retryTimer = setTimeout(() => void this.schedule(), SCHEDULE_RETRY_MS);
    }
  }
}
