import { RequestContext } from '@app/common/context/request-context';
import { DiscoveredMethod, MethodDiscovery } from '@app/common/discovery/method-discovery';
import { redactSecrets } from '@app/common/keys/stripe-keys';
import { describeError } from '@app/common/logging/error-description';
import { RepeatedErrorLog } from '@app/common/logging/repeated-error-log';
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
import { ProcessWebhookEventJobData } from './process-webhook-event.job';
import { StripeObjectConfirmation } from './stripe-object-confirmation';
import { WebhookEventBatches } from './webhook-event-batches';
import { combineOutcomes, handlerConnectionOf, reasonToIgnoreBeforeDispatch } from './webhook-event-rules';
import { ClaimedWebhookEvent, WebhookEventsRepository } from './webhook-events.repository';
import { SweepResult, WebhookEventsSweeper } from './webhook-events.sweeper';
import { classifyProcessingError } from './webhook-processing-error';
import { recordCompletedJob, recordFailedJob } from '@app/common/metrics/job-metrics';

/** The row's reason after the last attempt of a transient error; `last_error` starts with the error's own class. */
const RETRIES_EXHAUSTED = 'retries_exhausted';

/**
 * Jobs of the webhook-events queue one worker process runs at once. A job
 * spends most of its time waiting for PostgreSQL, and the process's
 * connection pool (20 connections) bounds how many handler transactions run
 * at once anyway.
 */
const WEBHOOK_WORKER_CONCURRENCY = 50;

export type ProcessWebhookEventResult = StripeEventOutcome | { result: 'skipped' };

/**
 * Runs the webhook-events queue: each stored Stripe event goes to the handlers
 * declared with `@OnStripeEvent` for its type, inside the event's tenant, and
 * the outcome is stored on the inbox row. Errors are classified
 * (`classifyProcessingError`): permanent ones fail the row at once, transient
 * ones retry with backoff until the last attempt fails the row. The same queue
 * carries the sweeper's recurring job.
 *
 * Each event keeps its own job, so retries, backoff, failed jobs and replays
 * stay per event, but the jobs of one tenant running at the same time share
 * their claim, outcome, delivery-time and connection statements
 * (WebhookEventBatches). The concurrency is high so that batches fill.
 */
@Processor(QUEUE_WEBHOOK_EVENTS, { concurrency: WEBHOOK_WORKER_CONCURRENCY, connection: WORKER_CONNECTION })
export class WebhookEventsProcessor extends WorkerHost implements OnModuleInit {
  private readonly logger = new Logger(WebhookEventsProcessor.name);
  private readonly workerErrors = new RepeatedErrorLog(this.logger, 'webhook-events worker connection error');
  private handlersByType = new Map<string, DiscoveredMethod<StripeEventHandlerMetadata>[]>();
  private readonly batches: WebhookEventBatches;

  constructor(
    @Inject(STRIPE_CONNECTION_FACADE) stripeConnection: StripeConnectionFacade,
    private readonly context: RequestContext,
    private readonly discovery: MethodDiscovery,
    private readonly events: WebhookEventsRepository,
    private readonly sweeper: WebhookEventsSweeper,
    private readonly confirmation: StripeObjectConfirmation,
  ) {
    super();
    this.batches = new WebhookEventBatches(events, stripeConnection, context);
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

    const eventJob = job as Job<ProcessWebhookEventJobData>;

    // Claiming and recording the outcome touch the tenant's inbox row, so they run in the tenant too.
    return this.context.runAsTenant(eventJob.data.tenantId, () => this.processEvent(eventJob), String(job.id));
  }

  @OnWorkerEvent('error')
  onWorkerError(error: Error): void {
    this.workerErrors.record(error);
  }

  @OnWorkerEvent('completed')
  onJobCompleted(job: Job): void {
    recordCompletedJob(QUEUE_WEBHOOK_EVENTS, job);
  }

  @OnWorkerEvent('failed')
  onJobFailed(job: Job | undefined, error: Error): void {
    recordFailedJob(QUEUE_WEBHOOK_EVENTS, job, error);
  }

  private async processEvent(job: Job<ProcessWebhookEventJobData>): Promise<ProcessWebhookEventResult> {
    const { webhookEventId, tenantId } = job.data;
    const generation = job.data.generation ?? 0;
    const event = await this.batches.claim(tenantId, { id: webhookEventId, generation });
    if (!event) {
      this.logger.debug({ tenantId, webhookEventId, generation, jobId: job.id }, 'Webhook event already finished, gone or moved to another job; nothing to do');

      return { result: 'skipped' };
    }

    if (event.attempts === 1) {
      await this.recordDeliveryTime(event);
    }

    let outcome: StripeEventOutcome;
    try {
      outcome = await this.dispatch(event);
    } catch (error) {
      throw await this.recordError(job, event, error);
    }

    await this.batches.recordOutcome(event, outcome.result, outcome.result === 'ignored' ? outcome.reason : null);
    this.logger.log(
      { tenantId, webhookEventId: event.id, stripeEventId: event.stripeEventId, type: event.type, jobId: job.id, attempt: event.attempts, ...outcome },
      'Webhook event processed',
    );

    return outcome;
  }

  /**
   * Apply the rules that ignore an event, cheapest first (no Stripe call for
   * an unhandled type, a disconnected tenant or a mode mismatch), then confirm
   * a platform-verified event's object in the tenant's account, then run the
   * handlers.
   */
  private async dispatch(event: ClaimedWebhookEvent): Promise<StripeEventOutcome> {
    const handlers = this.handlersByType.get(event.type) ?? [];
    if (handlers.length === 0) {
      return { result: 'ignored', reason: 'unhandled_type' };
    }

    const connection = handlerConnectionOf(await this.batches.connectionOf(event.tenantId));
    const reason = reasonToIgnoreBeforeDispatch({ livemode: event.livemode, verifiedBy: event.verifiedBy, connection });
    if (reason !== null) {
      return { result: 'ignored', reason };
    }

    if (event.verifiedBy === 'platform' && !(await this.confirmation.isInTenantAccount(event.tenantId, { id: event.stripeEventId, payload: event.payload }))) {
      this.logger.warn(
        { tenantId: event.tenantId, webhookEventId: event.id, stripeEventId: event.stripeEventId, type: event.type },
        "Platform-verified webhook event is about an object that is not in the tenant's Stripe account",
      );

      return { result: 'ignored', reason: 'foreign_object' };
    }

    const context: StripeEventContext = { tenantId: event.tenantId, inboxEventId: event.id, verifiedBy: event.verifiedBy, connection };
    const outcomes: StripeEventOutcome[] = [];
    for (const handler of handlers) {
      outcomes.push((await handler.invoke(event.payload as unknown as Stripe.Event, context)) as StripeEventOutcome);
    }

    return combineOutcomes(outcomes);
  }

  /**
   * Move the Billing page's `webhook.lastEventAt` to the row's arrival time.
   * Done here rather than at intake to keep intake at one query, and once per
   * batch of the tenant's events. A failure is logged and does not stop the
   * event, since the time is only informative.
   */
  private async recordDeliveryTime(event: ClaimedWebhookEvent): Promise<void> {
    try {
      await this.batches.recordDeliveryTime(event.tenantId, event.receivedAt);
    } catch (error) {
      this.logger.warn(
        { tenantId: event.tenantId, webhookEventId: event.id, err: describeError(error) },
        'Could not record the time of the last webhook delivery',
      );
    }
  }

  /**
   * Store what went wrong and return the error BullMQ gets. The row fails for
   * good on a permanent error, which is returned as a PermanentJobError so
   * BullMQ does not retry, and on the last attempt. Otherwise it stays
   * `processing` with the attempt's error until the retry. The stored error starts with its
   * class (`stripe_unavailable: …`) and passes through `redactSecrets`.
   */
  private async recordError(job: Job<ProcessWebhookEventJobData>, event: ClaimedWebhookEvent, error: unknown): Promise<Error> {
    const { name, message } = describeError(error);
    const classification = classifyProcessingError(error);
    const lastError = redactSecrets(`${classification.reason}: ${message}`);
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const permanent = classification.action === 'fail';
    const lastAttempt = attempt >= maxAttempts;
    const log = {
      tenantId: event.tenantId,
      webhookEventId: event.id,
      stripeEventId: event.stripeEventId,
      type: event.type,
      jobId: job.id,
      attempt,
      maxAttempts,
      reason: classification.reason,
      err: { name, message: redactSecrets(message) },
    };

    try {
      if (permanent || lastAttempt) {
        await this.events.recordFailure(event, permanent ? classification.reason : RETRIES_EXHAUSTED, lastError);
        this.logger.error(log, permanent ? 'Webhook event failed permanently' : 'Webhook event failed on its last attempt');
      } else {
        await this.events.recordAttemptError(event, lastError);
        this.logger.warn(log, 'Webhook event attempt failed; BullMQ retries it with backoff');
      }
    } catch (recordingError) {
      // The row stays `processing`; the sweeper finds it once the job is failed.
      const recording = describeError(recordingError);
      this.logger.error({ ...log, recordingError: { name: recording.name, message: redactSecrets(recording.message) } }, 'Could not record a webhook event failure');
    }

    // BullMQ stores the message and stack in Redis, so it gets the redacted message too.
    const redacted = redactSecrets(message);
    const failure = permanent ? new PermanentJobError(classification.reason, redacted) : Object.assign(new Error(redacted), { name });
    if (error instanceof Error && error.stack) {
      failure.stack = [`${failure.name}: ${redacted}`, ...error.stack.split('\n').filter((line) => /^\s+at /.test(line))].join('\n');
    }

    return failure;
  }
}
