import { ConcurrencyLimit } from '@app/common/batching/concurrency-limit';
import { SmartBatcher } from '@app/common/batching/smart-batcher';
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
import { ConnectionView, STRIPE_CONNECTION_FACADE, StripeConnectionFacade } from '@app/contracts/stripe-connection.contracts';
import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Job, UnrecoverableError } from 'bullmq';
import type Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { ProcessWebhookEventJobData } from './process-webhook-event.job';
import { StripeObjectConfirmation } from './stripe-object-confirmation';
import { combineOutcomes, handlerConnectionOf, reasonToIgnoreBeforeDispatch } from './webhook-event-rules';
import { ClaimedWebhookEvent, WebhookEventsRepository } from './webhook-events.repository';
import { SweepResult, WebhookEventsSweeper } from './webhook-events.sweeper';
import { classifyProcessingError } from './webhook-processing-error';
import { recordCompletedJob, recordFailedJob } from '@app/common/metrics/job-metrics';

/** The row's reason after the last attempt of a transient error; `last_error` starts with the error's own class. */
const RETRIES_EXHAUSTED = 'retries_exhausted';

/**
 * Jobs of the webhook-events queue one worker process runs at once. Most of
 * them wait in a tenant's batch (TENANT_BATCH_LIMITS), so a high number makes
 * batches larger rather than adding database load.
 */
const WEBHOOK_WORKER_CONCURRENCY = 200;

/**
 * A tenant's jobs run in batches of at most 50 events, at most two batches
 * of one tenant at a time. A batch forms while the tenant's batches before
 * it run, so an idle worker adds no wait and a busy one makes larger batches.
 */
const TENANT_BATCH_LIMITS = { maxSize: 50, maxConcurrent: 2 };

/**
 * Batches of all tenants running at once. Each keeps one of the process's 20
 * pooled connections checked out, so the limit leaves connections to the
 * domain-event consumers, the outbox relay and the handlers' nested checkouts.
 */
const BATCHES_AT_ONCE = 8;

export type ProcessWebhookEventResult = StripeEventOutcome | { result: 'skipped' };

/** A job's result from its batch: its outcome, or the error the job fails with. */
type BatchedJobResult = { outcome: ProcessWebhookEventResult } | { error: Error };

/**
 * Runs the webhook-events queue: each stored Stripe event goes to the handlers
 * declared with `@OnStripeEvent` for its type, inside the event's tenant, and
 * the outcome is stored on the inbox row. Errors are classified
 * (`classifyProcessingError`): permanent ones fail the row at once, transient
 * ones retry with backoff until the last attempt fails the row. The same queue
 * carries the sweeper's recurring job.
 *
 * Each event keeps its own job, so retries, backoff, failed jobs and replays
 * stay per event. The jobs of one tenant that wait at the same time run as one
 * batch on one database connection. The batch runs one claim statement, one
 * `last_event_at` update and one read of the Stripe connection. Then it runs
 * each event's handlers in turn, each in its own transaction, and ends with one
 * outcome statement. On a pool shared by many tenants, single jobs switched a
 * connection's tenant scope before most statements, and a batch does it once.
 */
@Processor(QUEUE_WEBHOOK_EVENTS, { concurrency: WEBHOOK_WORKER_CONCURRENCY, connection: WORKER_CONNECTION })
export class WebhookEventsProcessor extends WorkerHost implements OnModuleInit {
  private readonly logger = new Logger(WebhookEventsProcessor.name);
  private readonly workerErrors = new RepeatedErrorLog(this.logger, 'webhook-events worker connection error');
  private handlersByType = new Map<string, DiscoveredMethod<StripeEventHandlerMetadata>[]>();
  private readonly batches: SmartBatcher<Job<ProcessWebhookEventJobData>, BatchedJobResult>;
  private readonly batchSlots = new ConcurrencyLimit(BATCHES_AT_ONCE);

  constructor(
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly context: RequestContext,
    private readonly discovery: MethodDiscovery,
    private readonly events: WebhookEventsRepository,
    private readonly sweeper: WebhookEventsSweeper,
    private readonly confirmation: StripeObjectConfirmation,
  ) {
    super();
    this.batches = new SmartBatcher((tenantId, jobs) => this.runBatch(tenantId, jobs), TENANT_BATCH_LIMITS);
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
    const result = await this.batches.submit(eventJob.data.tenantId, eventJob);
    if ('error' in result) {
      throw result.error;
    }

    return result.outcome;
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

  /**
   * Run one tenant's batch on one connection, inside the tenant, so row-level
   * security scopes every statement to its rows. A failed claim fails every
   * job of the batch, and BullMQ retries each on its own.
   */
  private runBatch(tenantId: string, jobs: Job<ProcessWebhookEventJobData>[]): Promise<BatchedJobResult[]> {
    return this.batchSlots.run(() =>
      this.context.runAsTenant(tenantId, () => this.context.runOnOneConnection(this.dataSource, () => this.processBatch(tenantId, jobs))),
    );
  }

  private async processBatch(tenantId: string, jobs: Job<ProcessWebhookEventJobData>[]): Promise<BatchedJobResult[]> {
    const claimed = await this.events.claimBatch(
      tenantId,
      jobs.map((job) => ({ id: job.data.webhookEventId, generation: job.data.generation ?? 0, stripeCreated: job.data.stripeCreated })),
    );
    const events = claimed.filter((event): event is ClaimedWebhookEvent => event !== null);
    await this.recordDeliveryTime(tenantId, events);
    // Read after the claim, so every event is checked against the connection as it was when its processing started.
    const connection = events.some((event) => this.handlersByType.has(event.type)) ? await this.stripeConnection.getConnection(tenantId) : null;

    const results: BatchedJobResult[] = [];
    const outcomes: { event: ClaimedWebhookEvent; outcome: StripeEventOutcome; job: Job<ProcessWebhookEventJobData> }[] = [];
    for (const [index, job] of jobs.entries()) {
      const event = claimed[index];
      if (!event) {
        this.logger.debug(
          { tenantId, webhookEventId: job.data.webhookEventId, generation: job.data.generation ?? 0, jobId: job.id },
          'Webhook event already finished, gone or moved to another job; nothing to do',
        );
        results.push({ outcome: { result: 'skipped' } });
        continue;
      }

      try {
        const outcome = await this.context.runAsTenant(tenantId, () => this.dispatch(event, connection), String(job.id));
        outcomes.push({ event, outcome, job });
        results.push({ outcome });
      } catch (error) {
        results.push({ error: await this.recordError(job, event, error) });
      }
    }

    if (outcomes.length > 0) {
      try {
        await this.events.recordOutcomes(
          tenantId,
          outcomes.map(({ event, outcome }) => ({
            id: event.id,
            stripeCreated: event.stripeCreated,
            generation: event.generation,
            status: outcome.result,
            reason: outcome.result === 'ignored' ? outcome.reason : null,
          })),
        );
      } catch (error) {
        // Only the dispatched jobs retry. A job whose error was recorded keeps it, so a permanent failure stays failed.
        this.logger.warn(
          { tenantId, webhookEventIds: outcomes.map(({ event }) => event.id), err: describeError(error) },
          'Could not record the outcomes of a batch of webhook events; their jobs retry',
        );
        const failure = error instanceof Error ? error : new Error(String(error));
        for (const { job } of outcomes) {
          results[jobs.indexOf(job)] = { error: failure };
        }

        return results;
      }
    }
    for (const { event, outcome, job } of outcomes) {
      this.logger.log(
        { tenantId, webhookEventId: event.id, stripeEventId: event.stripeEventId, type: event.type, jobId: job.id, attempt: event.attempts, ...outcome },
        'Webhook event processed',
      );
    }

    return results;
  }

  /**
   * Apply the rules that ignore an event, cheapest first (no Stripe call for
   * an unhandled type, a disconnected tenant or a mode mismatch), then confirm
   * a platform-verified event's object in the tenant's account, then run the
   * handlers.
   */
  private async dispatch(event: ClaimedWebhookEvent, tenantConnection: ConnectionView | null): Promise<StripeEventOutcome> {
    const handlers = this.handlersByType.get(event.type) ?? [];
    if (handlers.length === 0 || tenantConnection === null) {
      return { result: 'ignored', reason: 'unhandled_type' };
    }

    const connection = handlerConnectionOf(tenantConnection);
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
   * Move the Billing page's `webhook.lastEventAt` to the latest arrival among
   * the batch's first attempts. Done here rather than at intake to keep intake
   * at one query. A failure is logged and does not stop the events, since the
   * time is only informative.
   */
  private async recordDeliveryTime(tenantId: string, events: ClaimedWebhookEvent[]): Promise<void> {
    const firstAttempts = events.filter((event) => event.attempts === 1);
    if (firstAttempts.length === 0) {
      return;
    }

    const latest = new Date(Math.max(...firstAttempts.map((event) => event.receivedAt.getTime())));
    try {
      await this.stripeConnection.recordWebhookEventReceived(tenantId, latest);
    } catch (error) {
      this.logger.warn(
        { tenantId, webhookEventIds: firstAttempts.map((event) => event.id), err: describeError(error) },
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
