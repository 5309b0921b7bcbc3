import { InjectQueue, OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Job, Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { ConcurrencyLimit } from '../batching/concurrency-limit';
import { SmartBatcher } from '../batching/smart-batcher';
import { RequestContext } from '../context/request-context';
import { DiscoveredMethod, MethodDiscovery } from '../discovery/method-discovery';
import { DOMAIN_EVENT_HANDLER, DomainEventHandlerMetadata } from '../events/on-domain-event.decorator';
import { describeError } from '../logging/error-description';
import { RepeatedErrorLog } from '../logging/repeated-error-log';
import { RetryLaterError } from '../queues/job-errors';
import { QUEUE_DOMAIN_EVENTS, jobIdFor } from '../queues/queue-names';
import { WORKER_CONNECTION } from '../queues/redis-connection';
import { ConsumerPositions, PositionAdvance, PreviousEvent, positionKey } from './consumer-positions';
import { DomainEventJobData } from './outbox-event.entity';
import { recordCompletedJob, recordFailedJob } from '../metrics/job-metrics';

type DomainEventHandler = DiscoveredMethod<DomainEventHandlerMetadata>;

/** The outcome of a delivered event for one consumer. */
type ConsumerOutcome = { result: 'applied' } | { result: 'skipped' } | { result: 'waiting'; position: number; previous: number };

/**
 * Jobs one worker process runs at once. Most of them wait in a tenant's
 * batch, so a high number makes batches larger rather than adding load.
 */
const DOMAIN_EVENT_CONCURRENCY = 100;

/**
 * A tenant's deliveries run in batches of at most 50, one batch of a tenant at
 * a time, so events of one aggregate relayed together are applied in relay
 * order and seldom wait for each other.
 */
const TENANT_BATCH_LIMITS = { maxSize: 50, maxConcurrent: 1 };

/**
 * Batches of all tenants running at once. Each keeps one of the process's 20
 * pooled connections checked out, and the webhook worker's batches keep up to 8.
 */
const BATCHES_AT_ONCE = 6;

/** A job's result from its batch: its delivery, or the error the job fails with. */
type BatchedDelivery = { delivery: DomainEventDelivery } | { error: unknown };

/**
 * The consumer positions of a batch's aggregates, read in one statement before
 * the batch and kept up to date as its events are applied, and the advances
 * to write in one statement after it.
 */
interface BatchPositions {
  applied: Map<string, number>;
  advances: PositionAdvance[];
}

/** Counts of a delivery's consumers by outcome. */
export interface DomainEventDelivery {
  consumers: number;
  applied: number;
  skipped: number;
}

/**
 * Delivers each relayed domain event to every consumer declared with
 * `@OnDomainEvent`, inside the event's tenant.
 *
 * Events carry their aggregate's sequence number, and each consumer applies
 * one aggregate's events in that order. A consumer that has not yet applied an
 * earlier event it listens to waits while that event's delivery is still
 * pending, and the job retries with backoff. A consumer that already applied
 * this event skips it. An earlier event whose job completed without the consumer
 * (it did not listen to it yet) no longer keeps the consumer waiting. Positions are kept per consumer,
 * so consumers never wait for each other, and one consumer's failure leaves
 * the others' progress recorded. Consumers still claim the message in
 * processed_messages inside their own transaction, because a crash between a
 * consumer's commit and the position update delivers the event to it again.
 *
 * The jobs of one tenant that wait at the same time are delivered in turn on
 * one database connection, so the tenant's scope is applied once per batch
 * instead of before most statements.
 */
@Processor(QUEUE_DOMAIN_EVENTS, { concurrency: DOMAIN_EVENT_CONCURRENCY, connection: WORKER_CONNECTION })
export class DomainEventsProcessor extends WorkerHost implements OnModuleInit {
  private readonly logger = new Logger(DomainEventsProcessor.name);
  private readonly workerErrors = new RepeatedErrorLog(this.logger, 'domain-events worker connection error');
  private handlers = new Map<string, DomainEventHandler[]>();
  /** The event names each consumer listens to, by consumer name. */
  private eventNamesByConsumer = new Map<string, string[]>();
  private readonly batches: SmartBatcher<Job<DomainEventJobData>, BatchedDelivery>;
  private readonly batchSlots = new ConcurrencyLimit(BATCHES_AT_ONCE);

  constructor(
    private readonly discovery: MethodDiscovery,
    private readonly context: RequestContext,
    private readonly positions: ConsumerPositions,
    @InjectQueue(QUEUE_DOMAIN_EVENTS) private readonly queue: Queue<DomainEventJobData>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    super();
    this.batches = new SmartBatcher((tenantId, jobs) => this.runBatch(tenantId, jobs), TENANT_BATCH_LIMITS);
  }

  onModuleInit(): void {
    for (const handler of this.discovery.findMethods<DomainEventHandlerMetadata>(DOMAIN_EVENT_HANDLER)) {
      const name = handler.metadata.eventClass.eventName;
      const consumer = handler.metadata.consumer;
      this.handlers.set(name, [...(this.handlers.get(name) ?? []), handler]);
      this.eventNamesByConsumer.set(consumer, [...new Set([...(this.eventNamesByConsumer.get(consumer) ?? []), name])]);
    }
  }

  async process(job: Job<DomainEventJobData>): Promise<DomainEventDelivery> {
    const result = await this.batches.submit(job.data.tenantId, job);
    if ('error' in result) {
      throw result.error;
    }

    return result.delivery;
  }

  /**
   * Deliver one tenant's jobs in turn on one connection; each job keeps its
   * own result and error. The consumers' positions are read before the batch
   * and advanced after it, one statement each. Until the advance, a crash or
   * another worker's delivery of the same event applies it again, which the
   * consumer's processed_messages claim turns into a no-op.
   */
  private runBatch(tenantId: string, jobs: Job<DomainEventJobData>[]): Promise<BatchedDelivery[]> {
    return this.batchSlots.run(() =>
      this.context.runAsTenant(tenantId, () =>
        this.context.runOnOneConnection(this.dataSource, async () => {
          const keys = jobs.flatMap((job) =>
            (this.handlers.get(job.data.eventName) ?? []).map((handler) => ({ consumer: handler.metadata.consumer, aggregateId: job.data.aggregateId })),
          );
          const positions: BatchPositions = { applied: await this.positions.positionsOf(tenantId, keys), advances: [] };
          const results: BatchedDelivery[] = [];
          for (const job of jobs) {
            const handlers = this.handlers.get(job.data.eventName) ?? [];
            try {
              results.push({ delivery: await this.context.runAsTenant(tenantId, () => this.deliver(job, handlers, positions), String(job.id)) });
            } catch (error) {
              results.push({ error });
            }
          }

          try {
            await this.positions.advanceAll(tenantId, positions.advances);
          } catch (error) {
            // The consumers committed, so the retry finds their claims and only advances the positions.
            return results.map((result) => ('delivery' in result && result.delivery.applied > 0 ? { error } : result));
          }

          return results;
        }),
      ),
    );
  }

  @OnWorkerEvent('error')
  onWorkerError(error: Error): void {
    this.workerErrors.record(error);
  }

  @OnWorkerEvent('completed')
  onJobCompleted(job: Job): void {
    recordCompletedJob(QUEUE_DOMAIN_EVENTS, job);
  }

  @OnWorkerEvent('failed')
  onJobFailed(job: Job | undefined, error: Error): void {
    recordFailedJob(QUEUE_DOMAIN_EVENTS, job, error);
  }

  /** Run every consumer, then fail the job if any failed or must wait, so the retry runs only those. */
  private async deliver(job: Job<DomainEventJobData>, handlers: DomainEventHandler[], positions: BatchPositions): Promise<DomainEventDelivery> {
    const { data } = job;
    const log = {
      tenantId: data.tenantId,
      messageId: data.messageId,
      event: data.eventName,
      aggregateId: data.aggregateId,
      aggregateSequence: data.aggregateSequence,
      jobId: job.id,
    };
    const delivery: DomainEventDelivery = { consumers: handlers.length, applied: 0, skipped: 0 };
    const waiting: string[] = [];
    let firstError: unknown = null;

    for (const handler of handlers) {
      const consumer = handler.metadata.consumer;
      try {
        const outcome = await this.deliverTo(handler, data, positions);
        if (outcome.result === 'waiting') {
          waiting.push(`${consumer} (applied ${outcome.position}, needs ${outcome.previous} first)`);
        } else {
          delivery[outcome.result]++;
          this.logger.debug({ ...log, consumer, result: outcome.result }, 'Domain event consumed');
        }
      } catch (error) {
        firstError ??= error;
        this.logger.warn({ ...log, consumer, attempt: job.attemptsMade + 1, err: describeError(error) }, 'Domain event consumer failed; the job retries it');
      }
    }

    if (firstError !== null) {
      throw firstError;
    }

    if (waiting.length > 0) {
      this.logger.log({ ...log, waiting, attempt: job.attemptsMade + 1 }, 'Domain event arrived before an earlier event of its aggregate; retrying later');
      throw new RetryLaterError(
        `Event ${data.aggregateSequence} of aggregate ${data.aggregateId} waits for earlier events: ${waiting.join(', ')}`,
      );
    }

    return delivery;
  }

  private async deliverTo(handler: DomainEventHandler, data: DomainEventJobData, positions: BatchPositions): Promise<ConsumerOutcome> {
    const { eventClass, consumer } = handler.metadata;
    const event = new eventClass(data.tenantId, data.aggregateId, data.payload as never, data.occurredAt);
    const sequence = data.aggregateSequence ?? null;
    if (sequence === null) {
      // Written before events were numbered: delivered without an order.
      await handler.invoke(event, data.messageId);

      return { result: 'applied' };
    }

    const key = positionKey(consumer, data.aggregateId);
    const position = positions.applied.get(key) ?? 0;
    if (position >= sequence) {
      return { result: 'skipped' };
    }

    // An earlier event has a lower sequence, so once the consumer applied `sequence - 1` none can be missing and the outbox is not read.
    const previous =
      position >= sequence - 1 ? null : await this.positions.previousEvent(data.tenantId, data.aggregateId, sequence, this.eventNamesByConsumer.get(consumer) ?? []);
    if (previous !== null && position < previous.sequence) {
      if (await this.isPending(previous)) {
        return { result: 'waiting', position, previous: previous.sequence };
      }

      this.logger.warn(
        { tenantId: data.tenantId, aggregateId: data.aggregateId, consumer, position, previousMessageId: previous.messageId, previousSequence: previous.sequence },
        'Consumer never applied an earlier event of this aggregate, whose delivery has finished; applying this one',
      );
    }

    await handler.invoke(event, data.messageId);
    positions.applied.set(key, Math.max(position, sequence));
    positions.advances.push({ consumer, aggregateId: data.aggregateId, sequence });

    return { result: 'applied' };
  }

  /** Check whether an earlier event can still reach its consumers: not yet relayed, or its job not finished. */
  private async isPending(previous: PreviousEvent): Promise<boolean> {
    if (!previous.published) {
      return true;
    }

    const state = await this.queue.getJobState(jobIdFor('outbox', previous.messageId));

    return state !== 'completed' && state !== 'unknown';
  }
}
