import { describeError } from '@app/common/logging/error-description';
import { JOB_ISSUE_INVOICE, JOB_SEND_INVOICE, JOB_VOID_INVOICE, QUEUE_INVOICES, jobIdFor } from '@app/common/queues/queue-names';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { StripeWork } from './invoices.repository';

/** The payload of the issue, send and void jobs: ids only. */
export interface InvoiceJobData {
  tenantId: string;
  invoiceId: string;
}

/**
 * An invoice job's report of the invoice as the job found it at its start. A job that reads the
 * invoice sets `stripeErrorJob`, so undefined means that the job reported nothing.
 */
export interface InvoiceJobObservation {
  stripeErrorJob?: StripeWork | null;
}

const JOB_NAMES: Record<StripeWork, string> = {
  issue: JOB_ISSUE_INVOICE,
  send: JOB_SEND_INVOICE,
  void: JOB_VOID_INVOICE,
};

/** A completed job is replaced at most this often, so work that keeps finding nothing to do cannot loop. */
const COMPLETED_JOB_REPLACE_AFTER_MS = 10 * 60 * 1000;

/** Outcome of `ensure`: the job it added, replaced, or found waiting or failed. */
export type EnsureResult = 'enqueued' | 'queued' | 'failed' | 'restarted';

/**
 * Adds the per-invoice jobs to the `invoices` queue under ids derived from the invoice id
 * (`issue-invoice-<id>`), so adding a job that is already waiting, delayed or running adds
 * nothing.
 */
@Injectable()
export class InvoiceJobQueue {
  private readonly logger = new Logger(InvoiceJobQueue.name);

  constructor(@InjectQueue(QUEUE_INVOICES) private readonly queue: Queue<InvoiceJobData>) {}

  async enqueue(work: StripeWork, data: InvoiceJobData): Promise<void> {
    await this.queue.add(JOB_NAMES[work], data, { jobId: this.jobId(work, data.invoiceId) });
  }

  /**
   * Enqueues after the change that calls for the job has committed. A failure (Redis away) is
   * logged and not raised, because the change remains and the job sweeper enqueues the job
   * within a minute.
   */
  async enqueueAfterCommit(work: StripeWork, data: InvoiceJobData): Promise<void> {
    try {
      await this.enqueue(work, data);
    } catch (error) {
      this.logger.warn(
        { tenantId: data.tenantId, invoiceId: data.invoiceId, work, err: describeError(error) },
        'Could not enqueue the invoice job; the job sweeper enqueues it later',
      );
    }
  }

  /**
   * Makes sure a job can still bring the invoice's Stripe side up to date. A missing job is
   * added; one that completed more than ten minutes ago (its work found nothing to do then)
   * is replaced. A failed job is
   * replaced with a fresh one only with `restartFailed`, which the daily reconciliation passes
   * and the frequent sweeper does not, so a permanent failure is retried once a day at most.
   */
  async ensure(work: StripeWork, data: InvoiceJobData, options: { restartFailed: boolean }): Promise<EnsureResult> {
    const jobId = this.jobId(work, data.invoiceId);
    const job = await this.queue.getJob(jobId);
    if (!job) {
      await this.enqueue(work, data);

      return 'enqueued';
    }

    const state = await job.getState();
    if (state === 'failed' && !options.restartFailed) {
      return 'failed';
    }
    if (state === 'completed' && Date.now() - (job.finishedOn ?? 0) < COMPLETED_JOB_REPLACE_AFTER_MS) {
      return 'queued';
    }
    if (state === 'failed' || state === 'completed' || state === 'unknown') {
      await job.remove();
      await this.enqueue(work, data);

      return 'restarted';
    }

    return 'queued';
  }

  /**
   * Runs the invoice's job now: a delayed job (waiting out a backoff) is promoted, and a missing,
   * failed or completed one is added afresh as `ensure` does with `restartFailed`. A waiting or
   * running job is left alone.
   */
  async runNow(work: StripeWork, data: InvoiceJobData): Promise<EnsureResult | 'promoted'> {
    const job = await this.queue.getJob(this.jobId(work, data.invoiceId));
    if (job && (await job.getState()) === 'delayed') {
      await job.promote();

      return 'promoted';
    }

    return this.ensure(work, data, { restartFailed: true });
  }

  private jobId(work: StripeWork, invoiceId: string): string {
    return jobIdFor(JOB_NAMES[work], invoiceId);
  }
}
