import { RequestContext } from '@app/common/context/request-context';
import { DiscoveredMethod, MethodDiscovery } from '@app/common/discovery/method-discovery';
import { DomainError } from '@app/common/errors/domain-error';
import { redactSecrets } from '@app/common/keys/stripe-keys';
import { PermanentJobError } from '@app/common/queues/job-errors';
import { JOB_PROCESS_WEBHOOK_EVENT, JOB_SWEEP_WEBHOOK_EVENTS, QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { WORKER_CONNECTION } from '@app/common/queues/redis-connection';
import {
  STRIPE_EVENT_HANDLER,
  StripeEventContext,
  StripeEventHandlerMetadata,
  StripeEventOutcome,
} from '@app/common/stripe/on-stripe-event.decorator';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade } from '@app/contracts/stripe-connection.contracts';
import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnModuleInit } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import type Stripe from 'stripe';
import { describeError } from '@app/common/logging/error-description';
import { ProcessWebhookEventJobData } from './process-webhook-event.job';
import { RepeatedErrorLog } from '@app/common/logging/repeated-error-log';
import { combineOutcomes, handlerConnectionOf, reasonToIgnoreBeforeDispatch } from './webhook-event-rules';
import { ClaimedWebhookEvent, WebhookEventsRepository } from './webhook-events.repository';
import { SweepResult, WebhookEventsSweeper } from './webhook-events.sweeper';

export type ProcessWebhookEventResult = StripeEventOutcome | { result: 'skipped' };

/**
 * Runs the webhook-events queue: each stored Stripe event goes to the handlers
 * declared with `@OnStripeEvent` for its type, inside the event's tenant, and
 * the outcome is stored on the inbox row. A thrown PermanentJobError fails the
 * row at once; any other error is retried with backoff, and the last attempt
 * fails the row. The same queue carries the sweeper's recurring job.
 */
@Processor(QUEUE_WEBHOOK_EVENTS, { concurrency: 20, connection: WORKER_CONNECTION })
export class WebhookEventsProcessor extends WorkerHost implements OnModuleInit {
  private readonly logger = new Logger(WebhookEventsProcessor.name);
  private readonly workerErrors = new RepeatedErrorLog(this.logger, 'webhook-events worker connection error');
  private handlersByType = new Map<string, DiscoveredMethod<StripeEventHandlerMetadata>[]>();

  constructor(
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
    private readonly context: RequestContext,
    private readonly discovery: MethodDiscovery,
    private readonly events: WebhookEventsRepository,
    private readonly sweeper: WebhookEventsSweeper,
  ) {
    super();
  }

  onModuleInit(): void {
    const handlersByType = new Map<string, DiscoveredMethod<StripeEventHandlerMetadata>[]>();
    for (const handler of this.discovery.findMethods<StripeEventHandlerMetadata>(STRIPE_EVENT_HANDLER)) {
      for (const type of handler.metadata.types) {
        handlersByType.set(type, [...(handlersByType.get(type) ?? []), handler]);
      }
    }
    this.handlersByType = handlersByType;
    this.logger.log({ types: [...handlersByType.keys()].sort() }, 'Stripe event handlers discovered');
  }

  async process(job: Job): Promise<ProcessWebhookEventResult | SweepResult> {
    if (job.name === JOB_SWEEP_WEBHOOK_EVENTS) {
      return this.sweeper.sweep();
    }

    if (job.name !== JOB_PROCESS_WEBHOOK_EVENT) {
      throw new UnrecoverableError(`Unknown job name "${job.name}" on the ${QUEUE_WEBHOOK_EVENTS} queue`);
    }

    return this.processEvent(job as Job<ProcessWebhookEventJobData>);
  }

  @OnWorkerEvent('error')
  onWorkerError(error: Error): void {
    this.workerErrors.record(error);
  }

  private async processEvent(job: Job<ProcessWebhookEventJobData>): Promise<ProcessWebhookEventResult> {
    const { webhookEventId, tenantId } = job.data;
    const event = await this.events.claimForProcessing(tenantId, webhookEventId);
    if (!event) {
      this.logger.debug({ tenantId, webhookEventId, jobId: job.id }, 'Webhook event already finished or gone; nothing to do');

      return { result: 'skipped' };
    }

    if (event.attempts === 1) {
      await this.recordDeliveryTime(event);
    }

    let outcome: StripeEventOutcome;
    try {
      outcome = await this.context.runAsTenant(tenantId, () => this.dispatch(event), job.id);
    } catch (error) {
      await this.recordError(job, event, error);
      throw error;
    }

    await this.events.recordOutcome(tenantId, event.id, outcome.result, outcome.result === 'ignored' ? outcome.reason : null);
    this.logger.log(
      { tenantId, webhookEventId: event.id, stripeEventId: event.stripeEventId, type: event.type, jobId: job.id, ...outcome },
      'Webhook event processed',
    );

    return outcome;
  }

  private async dispatch(event: ClaimedWebhookEvent): Promise<StripeEventOutcome> {
    const handlers = this.handlersByType.get(event.type) ?? [];
    if (handlers.length === 0) {
      return { result: 'ignored', reason: 'unhandled_type' };
    }

    const connection = handlerConnectionOf(await this.stripeConnection.getConnection(event.tenantId));
    const reason = reasonToIgnoreBeforeDispatch({ livemode: event.livemode, verifiedBy: event.verifiedBy, connection });
    if (reason !== null) {
      return { result: 'ignored', reason };
    }

    // TODO: an event verified only by a platform secret must be confirmed in the
    // tenant's account with the tenant's key before it is applied, else ignored as
    // `foreign_object`. Until then it is applied when the handler finds the object
    // is the service's, and handlers return `unknown_object` otherwise.
    const context: StripeEventContext = { tenantId: event.tenantId, inboxEventId: event.id, verifiedBy: event.verifiedBy, connection };
    const outcomes: StripeEventOutcome[] = [];
    for (const handler of handlers) {
      outcomes.push((await handler.invoke(event.payload as unknown as Stripe.Event, context)) as StripeEventOutcome);
    }

    return combineOutcomes(outcomes);
  }

  /**
   * Move the Billing page's `webhook.lastEventAt` to the row's arrival time.
   * Done here rather than at intake to keep intake at one query. A failure is
   * logged and does not stop the event, since the time is only informative.
   */
  private async recordDeliveryTime(event: ClaimedWebhookEvent): Promise<void> {
    try {
      await this.stripeConnection.recordWebhookEventReceived(event.tenantId, event.receivedAt);
    } catch (error) {
      this.logger.warn(
        { tenantId: event.tenantId, webhookEventId: event.id, err: describeError(error) },
        'Could not record the time of the last webhook delivery',
      );
    }
  }

  /**
   * Store what went wrong before the error goes back to BullMQ: the row fails
   * for good on a permanent error or the last attempt, else it stays
   * `processing` with the attempt's error until the retry.
   */
  private async recordError(job: Job<ProcessWebhookEventJobData>, event: ClaimedWebhookEvent, error: unknown): Promise<void> {
    const { name, message } = describeError(error);
    const lastError = redactSecrets(message);
    const permanent = error instanceof UnrecoverableError;
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const log = {
      tenantId: event.tenantId,
      webhookEventId: event.id,
      stripeEventId: event.stripeEventId,
      type: event.type,
      jobId: job.id,
      attempt: job.attemptsMade + 1,
      err: { name, message: lastError },
    };

    try {
      if (permanent || lastAttempt) {
        await this.events.recordFailure(event.tenantId, event.id, failureReason(error, permanent), lastError);
        this.logger.error(log, permanent ? 'Webhook event failed permanently' : 'Webhook event failed on its last attempt');
      } else {
        await this.events.recordAttemptError(event.tenantId, event.id, lastError);
        this.logger.warn(log, 'Webhook event attempt failed; BullMQ retries it with backoff');
      }
    } catch (recordingError) {
      // The row stays `processing`; the sweeper finds it once the job is failed.
      const recording = describeError(recordingError);
      this.logger.error({ ...log, recordingError: { name: recording.name, message: redactSecrets(recording.message) } }, 'Could not record a webhook event failure');
    }
  }
}

/** Choose the `reason` of a failed row: the permanent error's reason, a domain error's code, or `retries_exhausted`. */
function failureReason(error: unknown, permanent: boolean): string {
  if (error instanceof PermanentJobError) {
    return error.reason;
  }

  if (permanent) {
    return 'unrecoverable';
  }

  return error instanceof DomainError ? error.code : 'retries_exhausted';
}
