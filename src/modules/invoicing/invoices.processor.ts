import { RequestContext } from '@app/common/context/request-context';
import { describeError } from '@app/common/logging/error-description';
import { jobFailureReason, recordCompletedJob, recordFailedJob } from '@app/common/metrics/job-metrics';
import { redactSecrets } from '@app/common/keys/stripe-keys';
import { RepeatedErrorLog } from '@app/common/logging/repeated-error-log';
import {
  JOB_ISSUE_INVOICE,
  JOB_MARK_OVERDUE_INVOICES,
  JOB_RECONCILE_INVOICES,
  JOB_RECONCILE_TENANT_INVOICES,
  JOB_SEND_INVOICE,
  JOB_SWEEP_INVOICE_JOBS,
  JOB_VOID_INVOICE,
  QUEUE_INVOICES,
} from '@app/common/queues/queue-names';
import { WORKER_CONNECTION } from '@app/common/queues/redis-connection';
import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { InvoiceJobErrors, awaitsStripeConnection } from './invoice-job-errors';
import { InvoiceJobData, InvoiceJobObservation } from './invoice-job-queue';
import { InvoicesRepository, StripeWork } from './invoices.repository';
import { IssueInvoiceJob } from './issue-invoice.job';
import { MarkOverdueInvoicesJob } from './mark-overdue-invoices.job';
import { ReconcileInvoicesJob, ReconcileTenantInvoicesJobData } from './reconcile-invoices.job';
import { SendInvoiceJob } from './send-invoice.job';
import { SweepInvoiceJobsJob } from './sweep-invoice-jobs.job';
import { VoidInvoiceJob } from './void-invoice.job';

/** A job's work; jobs of one invoice's Stripe work report what they saw of it in `observation`. */
type JobWork<T> = (data: T, observation: InvoiceJobObservation) => Promise<unknown>;

/** Invoice jobs one worker process runs at once; most of their time is spent waiting on Stripe. */
const CONCURRENCY = 10;

/**
 * Runs the `invoices` queue: issuing, sending and voiding invoices in Stripe (per invoice,
 * inside its tenant), and the scheduled sweep, overdue check and reconciliation. Errors are
 * sorted by InvoiceJobErrors: permanent ones fail the job at once, the rest retry with backoff.
 */
@Processor(QUEUE_INVOICES, { concurrency: CONCURRENCY, connection: WORKER_CONNECTION })
export class InvoicesProcessor extends WorkerHost implements BeforeApplicationShutdown {
  private readonly logger = new Logger(InvoicesProcessor.name);
  private readonly workerErrors = new RepeatedErrorLog(this.logger, 'invoices worker connection error');

  constructor(
    private readonly context: RequestContext,
    private readonly errors: InvoiceJobErrors,
    private readonly issue: IssueInvoiceJob,
    private readonly send: SendInvoiceJob,
    private readonly voiding: VoidInvoiceJob,
    private readonly sweep: SweepInvoiceJobsJob,
    private readonly overdue: MarkOverdueInvoicesJob,
    private readonly reconcile: ReconcileInvoicesJob,
    private readonly invoices: InvoicesRepository,
  ) {
    super();
  }

  /** Let running jobs finish before the database connection closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.close();
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case JOB_ISSUE_INVOICE:
        return this.inTenant(job as Job<InvoiceJobData>, (data, observation) => this.issue.run(data, observation), 'issue');
      case JOB_SEND_INVOICE:
        return this.inTenant(job as Job<InvoiceJobData>, (data, observation) => this.send.run(data, observation), 'send');
      case JOB_VOID_INVOICE:
        return this.inTenant(job as Job<InvoiceJobData>, (data) => this.voiding.run(data), 'void');
      case JOB_RECONCILE_TENANT_INVOICES:
        return this.inTenant(job as Job<ReconcileTenantInvoicesJobData>, (data) => this.reconcile.reconcileTenant(data));
      case JOB_SWEEP_INVOICE_JOBS:
        return this.sweep.run();
      case JOB_MARK_OVERDUE_INVOICES:
        return this.overdue.run();
      case JOB_RECONCILE_INVOICES:
        return this.reconcile.fanOut(new Date(job.timestamp).toISOString().slice(0, 10));
      default:
        throw new UnrecoverableError(`Unknown job name "${job.name}" on the ${QUEUE_INVOICES} queue`);
    }
  }

  @OnWorkerEvent('error')
  onWorkerError(error: Error): void {
    this.workerErrors.record(error);
  }

  @OnWorkerEvent('completed')
  onJobCompleted(job: Job): void {
    recordCompletedJob(QUEUE_INVOICES, job);
  }

  @OnWorkerEvent('failed')
  onJobFailed(job: Job | undefined, error: Error): void {
    recordFailedJob(QUEUE_INVOICES, job, error);
  }

  /**
   * Runs a tenant's job inside the tenant, and turns its error into a retry or a permanent
   * failure. For a job of one invoice's Stripe work, every failed attempt is stored on the
   * invoice (its `stripeError`) and a later success of the same work clears it. That includes
   * an attempt that only waits for Stripe's search index, so the stored attempt number is
   * always the job's latest.
   */
  private async inTenant<T extends { tenantId: string }>(job: Job<T>, work: JobWork<T>, stripeWork?: StripeWork): Promise<unknown> {
    const { tenantId } = job.data;
    // The error is classified inside the tenant too, because classifying may read the tenant's rows.
    return this.context.runAsTenant(tenantId, () => this.runClassified(job, work, stripeWork), String(job.id));
  }

  private async runClassified<T extends { tenantId: string }>(job: Job<T>, work: JobWork<T>, stripeWork?: StripeWork): Promise<unknown> {
    const { tenantId } = job.data;
    const invoiceId = (job.data as Partial<InvoiceJobData>).invoiceId;
    const observation: InvoiceJobObservation = {};
    let result: unknown;
    try {
      result = await work(job.data, observation);
    } catch (error) {
      const classified = await this.errors.classify(tenantId, error);
      const permanent = classified instanceof UnrecoverableError;
      const attempt = { number: job.attemptsMade + 1, of: job.opts.attempts ?? 1 };
      const lastAttempt = attempt.number >= attempt.of;
      const log = { ...job.data, jobId: job.id, job: job.name, attempt: attempt.number, err: describeError(classified) };
      if (awaitsStripeConnection(classified)) {
        // The tenant's own setting stops the job, and an error line would page the service's on-call engineer for it.
        this.logger.warn(log, "Invoice job is waiting for the tenant's Stripe connection and runs again when the tenant connects or fixes its keys");
      } else if (permanent || lastAttempt) {
        this.logger.error(log, permanent ? 'Invoice job failed permanently' : 'Invoice job failed on its last attempt');
      } else {
        this.logger.warn(log, 'Invoice job attempt failed; BullMQ retries it with backoff');
      }
      if (stripeWork !== undefined && invoiceId !== undefined) {
        await this.storeStripeError(tenantId, invoiceId, stripeWork, classified, permanent ? null : attempt);
      }
      throw classified;
    }

    // Only this job's failed attempts store an error of its work, and BullMQ runs one attempt of a job
    // at a time, so an invoice that had none of this work's errors when the attempt began has none now.
    // NOTE: a stalled attempt that BullMQ restarts while the first still runs breaks that premise, and
    // an error the first attempt stores then stays until this work succeeds again.
    const nothingToClear = observation.stripeErrorJob !== undefined && observation.stripeErrorJob !== stripeWork;
    if (stripeWork !== undefined && invoiceId !== undefined && !nothingToClear) {
      await this.invoices.clearStripeError(tenantId, invoiceId, stripeWork);
    }

    return result;
  }

  /**
   * Stores the failure on the invoice. A retried failure's message ends with its attempt number,
   * since the invoice has no field for it. A failure to store it is logged, and the job still fails
   * with its own error.
   */
  private async storeStripeError(
    tenantId: string,
    invoiceId: string,
    job: StripeWork,
    error: Error,
    attempt: { number: number; of: number } | null,
  ): Promise<void> {
    try {
      const code = jobFailureReason(error);
      // Job errors carry their reason as a prefix for the logs and Bull Board; the invoice has it as `code`.
      const reason = error.message.startsWith(`${code}: `) ? error.message.slice(code.length + 2) : error.message;
      let message = reason;
      if (attempt !== null) {
        const retrying = attempt.number < attempt.of ? ', retrying' : '';
        message = `${reason} (attempt ${attempt.number} of ${attempt.of}${retrying})`;
      }
      await this.invoices.recordStripeError(tenantId, invoiceId, { job, code, message: redactSecrets(message), at: new Date() });
    } catch (recordingError) {
      this.logger.error({ tenantId, invoiceId, job, err: describeError(recordingError) }, "Could not store an invoice job's failure on the invoice");
    }
  }
}
