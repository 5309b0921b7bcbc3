import { describeError } from '@app/common/logging/error-description';
import { Injectable, Logger } from '@nestjs/common';
import { InvoiceJobQueue } from './invoice-job-queue';
import { InvoiceJobSettings } from './invoice-job-settings';
import { InvoicesRepository } from './invoices.repository';

const SWEEP_BATCH_SIZE = 500;

export interface SweepInvoiceJobsResult {
  unfinished: number;
  enqueued: number;
}

/**
 * Enqueues the issue, send or void job of every invoice whose Stripe side is unfinished and
 * has no job, which happens when Redis was away as the finalize or void committed. Failed
 * jobs are left to the daily reconciliation, so a permanent failure is not retried every sweep.
 */
@Injectable()
export class SweepInvoiceJobsJob {
  private readonly logger = new Logger(SweepInvoiceJobsJob.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly jobs: InvoiceJobQueue,
    private readonly settings: InvoiceJobSettings,
  ) {}

  async run(): Promise<SweepInvoiceJobsResult> {
    const unfinished = await this.invoices.findUnfinishedStripeWorkAcrossTenants(this.settings.sweepGraceSeconds, SWEEP_BATCH_SIZE);
    const result: SweepInvoiceJobsResult = { unfinished: unfinished.length, enqueued: 0 };
    for (const { tenantId, invoiceId, work } of unfinished) {
      try {
        const action = await this.jobs.ensure(work, { tenantId, invoiceId }, { restartFailed: false });
        if (action === 'enqueued' || action === 'restarted') {
          result.enqueued++;
          this.logger.log({ tenantId, invoiceId, work, action }, 'Invoice job sweeper enqueued a missing job');
        }
      } catch (error) {
        this.logger.warn({ tenantId, invoiceId, work, err: describeError(error) }, 'Invoice job sweeper could not enqueue a job');
      }
    }

    return result;
  }
}
