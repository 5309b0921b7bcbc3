import type { AuditActor } from './tenancy.contracts';

export const WEBHOOK_EVENT_STATUSES = ['received', 'processing', 'processed', 'failed', 'ignored'] as const;
export type WebhookEventStatusName = (typeof WEBHOOK_EVENT_STATUSES)[number];
/** Statuses a replay starts from: the finished ones. */
export const REPLAYABLE_WEBHOOK_EVENT_STATUSES = ['failed', 'ignored', 'processed'] as const satisfies readonly WebhookEventStatusName[];

/** An inbox row as operators see it. `lastError` never contains a secret. */
export interface WebhookEventView {
  id: string;
  tenantId: string;
  stripeEventId: string;
  type: string;
  livemode: boolean;
  status: WebhookEventStatusName;
  /** Why the event was ignored or failed, e.g. `mode_mismatch`, `foreign_object` or a failure's code. */
  reason: string | null;
  attempts: number;
  lastError: string | null;
  verifiedBy: 'endpoint' | 'platform';
  receivedAt: string;
  processedAt: string | null;
}

export interface WebhookEventDetailView extends WebhookEventView {
  /** The event as received, parsed. */
  payload: Record<string, unknown>;
}

export interface WebhookEventQuery {
  tenantId?: string;
  status?: WebhookEventStatusName;
  type?: string;
  /** Received at or after this time. */
  since?: Date;
  /** Received before this time. */
  until?: Date;
  /** 1..100, default 25. */
  limit?: number;
  cursor?: string;
}

export interface WebhookReplayQuery {
  tenantId?: string;
  /** A finished status: `failed`, `ignored` or `processed`. */
  status: WebhookEventStatusName;
  type?: string;
  since?: Date;
  until?: Date;
  dryRun?: boolean;
}

export type WebhookReplayResult = { replayed: number } | { wouldReplay: number };

/** Counts of one queue's jobs by state, and whether it is paused. */
export interface QueueCountsView {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  paused: boolean;
}

/**
 * Operator actions on the webhook inbox and the queues, shared by the ops HTTP
 * routes and the ops CLI so both apply the same checks and audit entries.
 * `actor` names who asked when there is no request principal (the CLI).
 */
export interface WebhooksAdmin {
  listEvents(query: WebhookEventQuery): Promise<{ data: WebhookEventView[]; nextCursor: string | null }>;
  /** Throws `not_found` for an unknown or malformed id. */
  getEvent(id: string): Promise<WebhookEventDetailView>;
  /** Runs a finished event again through the worker; `invalid_state` while it is still being processed. */
  replayEvent(id: string, actor?: AuditActor): Promise<{ replayed: 1 }>;
  replayEvents(query: WebhookReplayQuery, actor?: AuditActor): Promise<WebhookReplayResult>;
  queueCounts(): Promise<QueueCountsView[]>;
  /** Throws `not_found` for a queue name that is not one of the service's queues. */
  retryFailedJobs(queueName: string, actor?: AuditActor): Promise<{ retried: number }>;
}

export const WEBHOOKS_ADMIN = Symbol('WEBHOOKS_ADMIN');
