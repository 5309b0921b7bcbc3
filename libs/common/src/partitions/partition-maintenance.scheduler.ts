import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { JOB_CREATE_PARTITIONS, JOB_DROP_EXPIRED_PARTITIONS, QUEUE_MAINTENANCE } from '../queues/queue-names';
import { RecurringJob } from '../queues/recurring-job';

export const CREATE_PARTITIONS_SCHEDULER_ID = 'create-partitions';
export const DROP_EXPIRED_PARTITIONS_SCHEDULER_ID = 'drop-expired-partitions';
/** Hourly: a missed run or two still leaves three months of partitions ahead. */
export const CREATE_PARTITIONS_EVERY_MS = 60 * 60 * 1000;
/** Retention counts in days, so four runs a day drop a partition within hours of its expiry. */
export const DROP_EXPIRED_PARTITIONS_EVERY_MS = 6 * 60 * 60 * 1000;
/** A failed partition job runs again after 1 and then 2 minutes, before the next scheduled run. */
const JOB_OPTIONS = { attempts: 3, backoff: { type: 'exponential', delay: 60_000 }, removeOnComplete: true, removeOnFail: { count: 100 } };

/**
 * Upserts the partition jobs' BullMQ job schedulers at every worker start and
 * whenever the queue's Redis connection becomes ready again, so the schedules
 * come back after Redis restarts without its data. Upserting the same ids
 * from several workers keeps one schedule each.
 */
@Injectable()
export class PartitionMaintenanceScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PartitionMaintenanceScheduler.name);
  private readonly jobs: RecurringJob[];

  constructor(@InjectQueue(QUEUE_MAINTENANCE) queue: Queue) {
    this.jobs = [
      new RecurringJob(
        queue,
        { schedulerId: CREATE_PARTITIONS_SCHEDULER_ID, everyMs: CREATE_PARTITIONS_EVERY_MS, jobName: JOB_CREATE_PARTITIONS, label: 'partition creation job', jobOptions: JOB_OPTIONS },
        this.logger,
      ),
      new RecurringJob(
        queue,
        { schedulerId: DROP_EXPIRED_PARTITIONS_SCHEDULER_ID, everyMs: DROP_EXPIRED_PARTITIONS_EVERY_MS, jobName: JOB_DROP_EXPIRED_PARTITIONS, label: 'expired partition drop job', jobOptions: JOB_OPTIONS },
        this.logger,
      ),
    ];
  }

  onApplicationBootstrap(): void {
    for (const job of this.jobs) {
      job.start();
    }
  }

  onApplicationShutdown(): void {
    for (const job of this.jobs) {
      job.stop();
    }
  }
}
