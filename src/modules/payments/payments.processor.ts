import { RequestContext } from '@app/common/context/request-context';
import { DomainError, StoredKeyUndecryptableError } from '@app/common/errors/domain-error';
import { PermanentJobError } from '@app/common/queues/job-errors';
import { JOB_SUBMIT_REFUND, JOB_SWEEP_UNANSWERED_PAYMENTS, JOB_SWEEP_UNSENT_REFUNDS, QUEUE_PAYMENTS } from '@app/common/queues/queue-names';
import { WORKER_CONNECTION } from '@app/common/queues/redis-connection';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { RepeatedErrorLog } from '@app/common/logging/repeated-error-log';
import { CONNECTION_ERROR_CODES, RefundSubmissionService } from './refund-submission.service';
import { RefundsRepository } from './refunds.repository';
import { RefundsSweeper } from './refunds.sweeper';
import { UnansweredPaymentsSweeper } from './unanswered-payments.sweeper';
import { SubmitRefundJobData } from './submit-refund.job';
import { recordCompletedJob, recordFailedJob } from '@app/common/metrics/job-metrics';

export type SubmitRefundResult =
  | { result: 'submitted'; status: string }
  | { result: 'rejected'; reason: string }
  | { result: 'skipped'; reason: 'refund_not_found' | 'already_settled' };

/**
 * Runs the payments queue. `submit-refund` sends a refund that got no
 * response from Stripe again, with the same idempotency key, after first
 * looking for it in Stripe by its metadata. The sweep finds refunds whose job
 * went missing, and the unanswered payments sweep settles payments whose create
 * request got no response from Stripe (UnansweredPaymentsSweeper).
 * Without usable keys (disconnected, revoked) the job fails for good at once,
 * so a revoked key causes no retry storm, and the refund fails, giving its
 * amount back. Once the attempts are used up the refund fails too.
 */
@Processor(QUEUE_PAYMENTS, { concurrency: 10, connection: WORKER_CONNECTION })
export class PaymentsProcessor extends WorkerHost {
  private readonly logger = new Logger(PaymentsProcessor.name);
  private readonly workerErrors = new RepeatedErrorLog(this.logger, 'payments worker connection error');

  constructor(
    private readonly context: RequestContext,
    private readonly refunds: RefundsRepository,
    private readonly submission: RefundSubmissionService,
    private readonly sweeper: RefundsSweeper,
    private readonly unansweredPayments: UnansweredPaymentsSweeper,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
  ) {
    super();
  }

  async process(job: Job): Promise<unknown> {
    if (job.name === JOB_SWEEP_UNSENT_REFUNDS) {
      return this.sweeper.sweep();
    }
    if (job.name === JOB_SWEEP_UNANSWERED_PAYMENTS) {
      return this.unansweredPayments.sweep();
    }
    if (job.name !== JOB_SUBMIT_REFUND) {
      throw new UnrecoverableError(`Unknown job name "${job.name}" on the ${QUEUE_PAYMENTS} queue`);
    }

    const data = job.data as SubmitRefundJobData;

    return this.context.runAsTenant(data.tenantId, () => this.submitRefund(job as Job<SubmitRefundJobData>), String(job.id));
  }

  @OnWorkerEvent('error')
  onWorkerError(error: Error): void {
    this.workerErrors.record(error);
  }

  @OnWorkerEvent('completed')
  onJobCompleted(job: Job): void {
    recordCompletedJob(QUEUE_PAYMENTS, job);
  }

  @OnWorkerEvent('failed')
  onJobFailed(job: Job | undefined, error: Error): void {
    recordFailedJob(QUEUE_PAYMENTS, job, error);
  }

  private async submitRefund(job: Job<SubmitRefundJobData>): Promise<SubmitRefundResult> {
    const { tenantId, refundId } = job.data;
    const logContext = { tenantId, refundId, jobId: job.id, attempt: job.attemptsMade + 1 };
    const refund = await this.refunds.findById(tenantId, refundId);
    if (!refund) {
      this.logger.warn(logContext, 'Refund of a submit-refund job is not stored; nothing to do');

      return { result: 'skipped', reason: 'refund_not_found' };
    }
    if (refund.stripeRefundId !== null || refund.status !== 'pending') {
      return { result: 'skipped', reason: 'already_settled' };
    }

    let client: TenantStripeClient;
    try {
      client = await this.stripeConnection.getClient(tenantId);
    } catch (error) {
      if (error instanceof StoredKeyUndecryptableError) {
        throw error;
      }
      if (error instanceof DomainError && CONNECTION_ERROR_CODES.has(error.code)) {
        await this.submission.failUnconfirmed(refund, error.code);
        throw new PermanentJobError(error.code, `Refund ${refundId} cannot be sent: ${error.message}`);
      }
      throw error;
    }

    const outcome = await this.submission.submit(client, refund, { lookUpFirst: true });
    if (outcome.kind === 'applied') {
      return { result: 'submitted', status: outcome.refund.status };
    }
    if (outcome.kind === 'rejected') {
      if (outcome.error instanceof DomainError && CONNECTION_ERROR_CODES.has(outcome.error.code)) {
        throw new PermanentJobError(outcome.error.code, `Refund ${refundId} cannot be sent: ${outcome.error.message}`);
      }
      this.logger.warn({ ...logContext, reason: outcome.failureReason }, 'Stripe rejected a refund sent again; the refund failed');

      return { result: 'rejected', reason: outcome.failureReason };
    }

    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (lastAttempt) {
      // Had Stripe taken the refund, its events would have named it by now; if one
      // still does, Stripe's record overrules this failure.
      await this.submission.failUnconfirmed(refund, 'stripe_unavailable');
      this.logger.error(logContext, 'Stripe did not respond to the refund request on any attempt; the refund failed');
    }

    throw outcome.error;
  }
}
