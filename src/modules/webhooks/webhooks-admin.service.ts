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
import { WebhookReplayService } from './webhook-replay.service';

/**
 * The operators' view of the webhook inbox and the queues, bound to
 * WEBHOOKS_ADMIN for the ops CLI and used by the ops HTTP routes.
 */
@Injectable()
export class WebhooksAdminService implements WebhooksAdmin {
  constructor(
    private readonly events: WebhookEventsRepository,
    private readonly replays: WebhookReplayService,
    private readonly queueOperations: QueueOperationsService,
  ) {}

  async listEvents(query: WebhookEventQuery): Promise<{ data: WebhookEventView[]; nextCursor: string | null }> {
    if (query.tenantId !== undefined && !isUUID(query.tenantId)) {
      throw validationFailed([{ field: 'tenantId', message: 'must be a UUID' }]);
    }

    const limit = Math.min(Math.max(query.limit ?? DEFAULT_PAGE_LIMIT, 1), MAX_PAGE_LIMIT);
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    const filter = { status: query.status, type: query.type, since: query.since, until: query.until };
    // Without a tenant the list reads every tenant, which only the SECURITY DEFINER function may.
    const page =
      query.tenantId === undefined
        ? await this.events.listAcrossTenants(filter, limit, after)
        : await this.events.list({ ...filter, tenantId: query.tenantId }, limit, after);

    return { data: page.data.map(toView), nextCursor: page.nextCursor };
  }

  async getEvent(id: string): Promise<WebhookEventDetailView> {
    const event = isUUID(id) ? await this.events.findById(id) : null;
    if (!event) {
      throw notFound('webhook event');
    }

    return { ...toView(event), payload: event.payload ?? {} };
  }

  /** Returns the tenant id of the event with this id, or null for an unknown or malformed id. */
  findEventTenantId(id: string): Promise<string | null> {
    return isUUID(id) ? this.events.findTenantId(id) : Promise.resolve(null);
  }

  replayEvent(id: string, actor?: AuditActor): Promise<{ replayed: 1 }> {
    return this.replays.replayEvent(id, actor);
  }

  replayEvents(query: WebhookReplayQuery, actor?: AuditActor): Promise<WebhookReplayResult> {
    if (query.tenantId !== undefined && !isUUID(query.tenantId)) {
      throw validationFailed([{ field: 'tenantId', message: 'must be a UUID' }]);
    }

    return this.replays.replayEvents(query, actor);
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
