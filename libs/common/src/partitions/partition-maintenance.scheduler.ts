import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { describeError } from '../logging/error-description';
import { JOB_CREATE_PARTITIONS, JOB_DROP_EXPIRED_PARTITIONS, QUEUE_MAINTENANCE } from '../queues/queue-names';

export const CREATE_PARTITIONS_SCHEDULER_ID = 'create-partitions';
export const DROP_EXPIRED_PARTITIONS_SCHEDULER_ID = 'drop-expired-partitions';
/** Hourly: a missed run or two still leaves three months of partitions ahead. */
export const CREATE_PARTITIONS_EVERY_MS = 60 * 60 * 1000;
/** Retention counts in days, so four runs a day drop a partition within hours of its expiry. */
export const DROP_EXPIRED_PARTITIONS_EVERY_MS = 6 * 60 * 60 * 1000;
const SCHEDULE_RETRY_MS = 10_000;

const SCHEDULES = [
  { id: CREATE_PARTITIONS_SCHEDULER_ID, name: JOB_CREATE_PARTITIONS, every: CREATE_PARTITIONS_EVERY_MS },
  { id: DROP_EXPIRED_PARTITIONS_SCHEDULER_ID, name: JOB_DROP_EXPIRED_PARTITIONS, every: DROP_EXPIRED_PARTITIONS_EVERY_MS },
];

/**
 * Upserts the partition jobs' BullMQ job schedulers at every worker start and
 * whenever the queue's Redis connection becomes ready again, so the schedules
 * come back after Redis restarts without its data. Upserting the same ids
 * from several workers keeps one schedule each.
 */
@Injectable()
export class PartitionMaintenanceScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PartitionMaintenanceScheduler.name);
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(@InjectQueue(QUEUE_MAINTENANCE) private readonly queue: Queue) {}

  onApplicationBootstrap(): void {
    void this.schedule();
    this.queue.getBackend().on('ready', () => {
      void this.schedule();
    });
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    this.clearRetry();
  }

  private async schedule(): Promise<void> {
    this.clearRetry();
    if (this.stopped) {
      return;
    }

    try {
      for (const schedule of SCHEDULES) {
        await this.queue.upsertJobScheduler(
          schedule.id,
          { every: schedule.every },
          { name: schedule.name, data: {}, opts: { attempts: 3, backoff: { type: 'exponential', delay: 60_000 }, removeOnComplete: true, removeOnFail: { count: 100 } } },
        );
      }
      this.logger.log({ schedulers: SCHEDULES.map((schedule) => schedule.id) }, 'Partition jobs scheduled');
    } catch (error) {
      if (this.stopped) {
        return;
      }

      this.logger.warn({ retryInMs: SCHEDULE_RETRY_MS, err: describeError(error) }, 'Could not schedule the partition jobs; retrying');
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
