import { RequestContext } from '@app/common/context/request-context';
import { notFound, validationFailed } from '@app/common/errors/domain-error';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, decodeCursor } from '@app/common/pagination/keyset-cursor';
import type { AuditActor } from '@app/contracts/tenancy.contracts';
import {
  QueueCountsView,
  WebhookEventDetailView,
  WebhookEventQuery,
  WebhookEventView,
  WebhookReplayQuery,
  WebhookReplayResult,
  WebhooksAdmin,
} from '@app/contracts/webhooks.contracts';
import { Injectable } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { QueueOperationsService } from './queue-operations.service';
import { WebhookEventRecord, WebhookEventsRepository } from './webhook-events.repository';
import { WebhookReplayService, checkTimeRange } from './webhook-replay.service';

/**
 * The operators' view of the webhook inbox and the queues, bound to
 * WEBHOOKS_ADMIN for the ops CLI and used by the ops HTTP routes. An operator
 * has no tenant, so a list or replay filtered to one tenant runs in that
 * tenant, and so does every action on one event, in the event's tenant. The
 * unfiltered list and bulk replay find their events through SECURITY DEFINER
 * functions, and the bulk replay replays each event in its tenant.
 */
@Injectable()
export class WebhooksAdminService implements WebhooksAdmin {
  constructor(
    private readonly events: WebhookEventsRepository,
    private readonly replays: WebhookReplayService,
    private readonly queueOperations: QueueOperationsService,
    private readonly context: RequestContext,
  ) {}

  async listEvents(query: WebhookEventQuery): Promise<{ data: WebhookEventView[]; nextCursor: string | null }> {
    if (query.tenantId !== undefined && !isUUID(query.tenantId)) {
      throw validationFailed([{ field: 'tenantId', message: 'must be a UUID' }]);
    }

    checkTimeRange(query);
    const limit = Math.min(Math.max(query.limit ?? DEFAULT_PAGE_LIMIT, 1), MAX_PAGE_LIMIT);
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    const filter = { status: query.status, type: query.type, since: query.since, until: query.until };
    // Without a tenant the list reads every tenant, which only the SECURITY DEFINER function may.
    const tenantId = query.tenantId;
    const page =
      tenantId === undefined
        ? await this.events.listAcrossTenants(filter, limit, after)
        : await this.context.runInTenant(tenantId, () => this.events.list({ ...filter, tenantId }, limit, after));

    return { data: page.data.map(toView), nextCursor: page.nextCursor };
  }

  getEvent(id: string): Promise<WebhookEventDetailView> {
    return this.runInEventTenant(id, async () => {
      const event = await this.events.findById(id);
      if (!event) {
        throw notFound('webhook event');
      }

      return { ...toView(event), payload: event.payload ?? {} };
    });
  }

  replayEvent(id: string, actor?: AuditActor): Promise<{ replayed: 1 }> {
    return this.runInEventTenant(id, () => this.replays.replayEvent(id, actor));
  }

  replayEvents(query: WebhookReplayQuery, actor?: AuditActor): Promise<WebhookReplayResult> {
    const tenantId = query.tenantId;
    if (tenantId === undefined) {
      return this.replays.replayEvents(query, actor);
    }
    if (!isUUID(tenantId)) {
      throw validationFailed([{ field: 'tenantId', message: 'must be a UUID' }]);
    }

    return this.context.runInTenant(tenantId, () => this.replays.replayEvents(query, actor));
  }

  /**
   * Runs `work` in the tenant of event `id`, found through a SECURITY DEFINER
   * function, so the event is read and replayed as the app role. An unknown
   * or malformed id is a 404.
   */
  private async runInEventTenant<T>(id: string, work: () => Promise<T>): Promise<T> {
    const tenantId = isUUID(id) ? await this.events.findTenantId(id) : null;
    if (tenantId === null) {
      throw notFound('webhook event');
    }

    return this.context.runInTenant(tenantId, work);
  }

  queueCounts(): Promise<QueueCountsView[]> {
    return this.queueOperations.counts();
  }

  retryFailedJobs(queueName: string, actor?: AuditActor): Promise<{ retried: number }> {
    return this.queueOperations.retryFailed(queueName, actor);
  }
}

function toView(event: WebhookEventRecord): WebhookEventView {
  return {
    id: event.id,
    tenantId: event.tenantId,
    stripeEventId: event.stripeEventId,
    type: event.type,
    livemode: event.livemode,
    status: event.status,
    reason: event.reason,
    attempts: event.attempts,
    lastError: event.lastError,
    verifiedBy: event.verifiedBy,
    receivedAt: event.receivedAt.toISOString(),
    processedAt: event.processedAt?.toISOString() ?? null,
  };
}
