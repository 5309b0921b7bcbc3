import { describeError } from '@app/common/logging/error-description';
import { JOB_SUBMIT_REFUND, QUEUE_PAYMENTS, jobIdFor } from '@app/common/queues/queue-names';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';

/** Payload of `submit-refund`: ids only; the job reads the refund and re-enters its tenant. */
export interface SubmitRefundJobData {
  tenantId: string;
  refundId: string;
}

/** Delay before the first job run, so it does not race the request that just got no response. */
export const SUBMIT_REFUND_DELAY_MS = 5_000;

/** Returns the refund's job id: one job per refund, so adding it again while it exists is a no-op. */
export function submitRefundJobId(refundId: string): string {
  return jobIdFor(JOB_SUBMIT_REFUND, refundId);
}

/**
 * Enqueues `submit-refund` jobs, which send a refund that got no response
 * from Stripe again, with the same idempotency key, until Stripe responds.
 */
@Injectable()
export class SubmitRefundJobs {
  private readonly logger = new Logger(SubmitRefundJobs.name);

  constructor(@InjectQueue(QUEUE_PAYMENTS) private readonly queue: Queue<SubmitRefundJobData>) {}

  /**
   * Adds the job; returns false when Redis rejected it, in which case the
   * refund sweeper enqueues it later, since the refund stays pending.
   */
  async enqueue(data: SubmitRefundJobData, delayMs = SUBMIT_REFUND_DELAY_MS): Promise<boolean> {
    try {
      await this.queue.add(JOB_SUBMIT_REFUND, data, { jobId: submitRefundJobId(data.refundId), delay: delayMs });

      return true;
    } catch (error) {
      this.logger.warn({ ...data, err: describeError(error) }, 'Could not enqueue the refund job; the refund sweeper enqueues it later');

      return false;
    }
  }
}
