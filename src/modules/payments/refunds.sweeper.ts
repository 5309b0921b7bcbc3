import { JOB_SWEEP_UNSENT_REFUNDS, QUEUE_PAYMENTS } from '@app/common/queues/queue-names';
import { RecurringJob } from '@app/common/queues/recurring-job';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { RefundsRepository } from './refunds.repository';
import { SubmitRefundJobs, submitRefundJobId } from './submit-refund.job';

export const REFUND_SWEEP_SCHEDULER_ID = 'sweep-unsent-refunds';
export const REFUND_SWEEP_EVERY_MS = 60_000;
/** Refunds younger than this are left alone: their request, or its job, normally settles them first. */
export const REFUND_SWEEP_GRACE_MS = 2 * 60_000;
const SWEEP_BATCH_SIZE = 200;

/**
 * Finds refunds still pending without a Stripe id after the grace period and
 * without a job, which happens when Redis rejected the job after Stripe did
 * not respond, and enqueues their `submit-refund` job. It runs as a job
 * scheduler on the payments queue, upserted at every worker start and every reconnect.
 */
@Injectable()
export class RefundsSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RefundsSweeper.name);
  private readonly recurring: RecurringJob;

  constructor(
    @InjectQueue(QUEUE_PAYMENTS) private readonly queue: Queue,
    private readonly refunds: RefundsRepository,
    private readonly jobs: SubmitRefundJobs,
  ) {
    this.recurring = new RecurringJob(
      queue,
      { schedulerId: REFUND_SWEEP_SCHEDULER_ID, everyMs: REFUND_SWEEP_EVERY_MS, jobName: JOB_SWEEP_UNSENT_REFUNDS, label: 'refund sweeper' },
      this.logger,
    );
  }

  onApplicationBootstrap(): void {
    this.recurring.start();
  }

  onApplicationShutdown(): void {
    this.recurring.stop();
  }

  /** Enqueues a job for every unsent refund older than `graceMs` that has none; returns how many were enqueued. */
  async sweep(graceMs = REFUND_SWEEP_GRACE_MS): Promise<{ enqueued: number }> {
    const unsent = await this.refunds.findUnsent(new Date(Date.now() - graceMs), SWEEP_BATCH_SIZE);
    let enqueued = 0;
    for (const refund of unsent) {
      const job = await this.queue.getJob(submitRefundJobId(refund.refundId));
      if (job) {
        continue;
      }
      if (await this.jobs.enqueue(refund, 0)) {
        enqueued++;
        this.logger.log(refund, 'Refund sweeper enqueued an unsent refund');
      }
    }

    return { enqueued };
  }
}
