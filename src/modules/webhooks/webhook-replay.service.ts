import { RequestContext } from '@app/common/context/request-context';
import { DomainError, notFound, validationFailed } from '@app/common/errors/domain-error';
import { describeError } from '@app/common/logging/error-description';
import { withTimeout } from '@app/common/queues/queue-connection-state';
import { JOB_PROCESS_WEBHOOK_EVENT, QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { AuditActor, TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { WebhookReplayQuery, WebhookReplayResult } from '@app/contracts/webhooks.contracts';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { isUUID } from 'class-validator';
import { ProcessWebhookEventJobData, webhookEventJobId } from './process-webhook-event.job';
import { REPLAYABLE_STATUSES, WebhookEventListFilter, WebhookEventRecord, WebhookEventsRepository } from './webhook-events.repository';

/** Maximum number of events one bulk replay request replays; `remaining` in the response counts those left. */
export const MAX_BULK_REPLAY = 1_000;
const ADD_TIMEOUT_MS = 5_000;

interface ReplayedEvent {
  event: WebhookEventRecord;
  generation: number;
}

/**
 * Replays stored webhook events for operators. A replay puts a finished row
 * back to `received` under a job of the next generation, whose id was never
 * used before, so BullMQ cannot silently ignore the add. It writes
 * `webhook.replayed` to the tenant's audit log with the operator, then adds
 * the job. The worker
 * then processes the stored event as it did the first time: no delivery is
 * posted to the public endpoint and no signature is checked again.
 */
@Injectable()
export class WebhookReplayService {
  private readonly logger = new Logger(WebhookReplayService.name);

  constructor(
    @Inject(TENANCY_FACADE) private readonly tenancy: TenancyFacade,
    @InjectQueue(QUEUE_WEBHOOK_EVENTS) private readonly queue: Queue<ProcessWebhookEventJobData>,
    private readonly events: WebhookEventsRepository,
    private readonly context: RequestContext,
  ) {}

  /**
   * Replay one event. Throws `not_found` for an unknown id, `invalid_state`
   * while the event is `received` or `processing`, and `service_unavailable`
   * when Redis does not take the job (the row then waits for the sweeper).
   */
  async replayEvent(id: string, actor?: AuditActor): Promise<{ replayed: 1 }> {
    if (!isUUID(id)) {
      throw notFound('webhook event');
    }

    const replayed = await this.reset(id, actor);
    await this.enqueue(replayed);
    await this.removeSupersededFailedJob(replayed);

    return { replayed: 1 };
  }

  /**
   * Replay every event a query matches, oldest first, at most
   * MAX_BULK_REPLAY per call, each in its tenant. A dry run only counts them.
   * Events that change state while the replay runs are skipped.
   */
  async replayEvents(query: WebhookReplayQuery, actor?: AuditActor): Promise<WebhookReplayResult & { remaining?: number }> {
    if (!REPLAYABLE_STATUSES.includes(query.status)) {
      throw validationFailed([{ field: 'status', message: `must be one of ${REPLAYABLE_STATUSES.join(', ')}: events still being processed cannot be replayed` }]);
    }

    checkTimeRange(query);
    const filter = { tenantId: query.tenantId, status: query.status, type: query.type, since: query.since, until: query.until };
    if (query.dryRun) {
      return { wouldReplay: await this.count(filter) };
    }

    // Counted before the replay, because replayed events may match the filter again once they finish.
    const matched = await this.count(filter);
    const found = await this.findEvents(filter);
    let replayed = 0;
    for (const { id, tenantId } of found) {
      try {
        await this.context.runInTenant(tenantId, () => this.replayEvent(id, actor));
        replayed++;
      } catch (error) {
        if (error instanceof DomainError && (error.code === 'invalid_state' || error.code === 'not_found')) {
          continue;
        }
        if (error instanceof DomainError && error.code === 'service_unavailable') {
          throw new DomainError('service_unavailable', `${error.message} ${replayed} events were replayed before Redis failed.`, {
            headers: error.headers,
            extensions: { replayed },
          });
        }

        throw error;
      }
    }

    const remaining = Math.max(0, matched - found.length);
    this.logger.log({ filter: describeFilter(filter), replayed, remaining }, 'Operator replayed webhook events');

    return { replayed, remaining };
  }

  /** Counts the events a filter matches: in its tenant, or without one across tenants through a SECURITY DEFINER function. */
  private count(filter: WebhookEventListFilter): Promise<number> {
    return filter.tenantId === undefined ? this.events.countAcrossTenants(filter) : this.events.count(filter);
  }

  /** Finds up to MAX_BULK_REPLAY events a filter matches, oldest first, each with the tenant to replay it in. */
  private async findEvents(filter: WebhookEventListFilter): Promise<{ id: string; tenantId: string }[]> {
    const tenantId = filter.tenantId;
    if (tenantId === undefined) {
      return this.events.findAcrossTenants(filter, MAX_BULK_REPLAY);
    }

    const ids = await this.events.findIds(filter, MAX_BULK_REPLAY);

    return ids.map((id) => ({ id, tenantId }));
  }

  private async reset(id: string, actor: AuditActor | undefined): Promise<ReplayedEvent> {
    return this.events.transaction(async (manager) => {
      const event = await this.events.lockById(manager, id);
      if (!event) {
        throw notFound('webhook event');
      }

      if (!REPLAYABLE_STATUSES.includes(event.status)) {
        throw new DomainError(
          'invalid_state',
          `Webhook event ${id} is ${event.status}: it is still being processed, so it cannot be replayed until it is processed, ignored or failed.`,
        );
      }

      const generation = await this.events.resetForReplay(manager, event);
      await this.tenancy.recordAudit(
        {
          tenantId: event.tenantId,
          action: 'webhook.replayed',
          details: {
            webhookEventId: event.id,
            stripeEventId: event.stripeEventId,
            type: event.type,
            previousStatus: event.status,
            previousReason: event.reason,
            jobId: webhookEventJobId(event.id, generation),
          },
          ...(actor ? { actor } : {}),
        },
        manager,
      );

      return { event, generation };
    });
  }

  /**
   * Add the replay's job and read it back from BullMQ. The row is already
   * `received`, so when Redis fails here the sweeper adds the job once the
   * grace period has passed and Redis is back, and the 503 reports that to the operator.
   */
  private async enqueue({ event, generation }: ReplayedEvent): Promise<void> {
    const jobId = webhookEventJobId(event.id, generation);
    const log = { tenantId: event.tenantId, webhookEventId: event.id, stripeEventId: event.stripeEventId, type: event.type, jobId };
    try {
      await withTimeout(
        this.queue.add(JOB_PROCESS_WEBHOOK_EVENT, { webhookEventId: event.id, tenantId: event.tenantId, generation }, { jobId }),
        ADD_TIMEOUT_MS,
        'Adding the replay job',
      );
      const stored = await withTimeout(this.queue.getJob(jobId), ADD_TIMEOUT_MS, 'Reading the replay job back');
      if (!stored || stored.data.webhookEventId !== event.id || (stored.data.generation ?? 0) !== generation) {
        throw new Error(`BullMQ has no job ${jobId} for webhook event ${event.id} after adding it; retry the replay`);
      }
    } catch (error) {
      this.logger.error({ ...log, err: describeError(error) }, 'Could not add a replay job; the sweeper adds it once Redis is back');
      throw new DomainError(
        'service_unavailable',
        'Redis did not take the replay job. The event is marked for replay, and the sweeper enqueues it within a minute of Redis being back.',
        { headers: { 'Retry-After': '30' }, cause: error },
      );
    }

    this.logger.log({ ...log, previousStatus: event.status }, 'Webhook event replayed');
  }

  /** Take the failed job of the previous generation off the failed set, so failed counts show only what still needs care. */
  private async removeSupersededFailedJob({ event }: ReplayedEvent): Promise<void> {
    if (event.status !== 'failed') {
      return;
    }

    const jobId = webhookEventJobId(event.id, event.generation);
    try {
      const job = await this.queue.getJob(jobId);
      if (job && (await job.getState()) === 'failed') {
        await job.remove();
      }
    } catch (error) {
      // A superseded job that is retried later finds the row owned by the new generation and does nothing.
      this.logger.warn({ tenantId: event.tenantId, webhookEventId: event.id, jobId, err: describeError(error) }, 'Could not remove the superseded failed job');
    }
  }
}

function describeFilter(filter: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== undefined));
}

/** Reject a time window that ends before it starts, which would match nothing and look like an empty result. */
export function checkTimeRange(query: { since?: Date; until?: Date }): void {
  if (query.since !== undefined && query.until !== undefined && query.until.getTime() <= query.since.getTime()) {
    throw validationFailed([{ field: 'until', message: 'must be later than since: events received at or after since and before until are selected' }]);
  }
}
