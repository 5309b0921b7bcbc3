import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { WebhookVerifiedBy } from './webhook-event.entity';

export interface NewWebhookEvent {
  tenantId: string;
  stripeEventId: string;
  type: string;
  livemode: boolean;
  apiVersion: string | null;
  stripeCreated: number;
  /** The exact bytes received; stored as is and, decoded as UTF-8, as the jsonb payload. */
  rawBody: Buffer;
  verifiedBy: WebhookVerifiedBy;
}

/** A row the worker has claimed: what dispatch needs and nothing more. */
export interface ClaimedWebhookEvent {
  id: string;
  tenantId: string;
  stripeEventId: string;
  type: string;
  livemode: boolean;
  payload: Record<string, unknown>;
  verifiedBy: WebhookVerifiedBy;
  /** Processing attempts so far, this one included. */
  attempts: number;
  receivedAt: Date;
}

/** An unfinished row, with the columns the sweeper reads. */
export interface UnfinishedWebhookEvent {
  id: string;
  tenantId: string;
  attempts: number;
}

interface ClaimedRow {
  id: string;
  tenant_id: string;
  stripe_event_id: string;
  type: string;
  livemode: boolean;
  payload: Record<string, unknown>;
  verified_by: WebhookVerifiedBy;
  attempts: number;
  received_at: Date;
}

/**
 * The inbox table through plain SQL: intake runs one INSERT per delivery and
 * nothing else, and the worker's updates are single statements. Every method
 * but `findUnfinished` is scoped by (tenant_id, id).
 */
@Injectable()
export class WebhookEventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Insert a delivery unless the tenant already has this Stripe event. Returns
   * the new row's id, or null for a duplicate. The payload column is computed
   * from the raw bytes in PostgreSQL, so the body crosses the wire once.
   */
  async insertIfNew(event: NewWebhookEvent): Promise<string | null> {
    const rows: { id: string }[] = await this.dataSource.query(
      `INSERT INTO webhook_events
              (tenant_id, stripe_event_id, type, livemode, api_version, stripe_created, raw_body, payload, verified_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, convert_from($7, 'UTF8')::jsonb, $8)
       ON CONFLICT (tenant_id, stripe_event_id) DO NOTHING
       RETURNING id`,
      [
        event.tenantId,
        event.stripeEventId,
        event.type,
        event.livemode,
        event.apiVersion,
        event.stripeCreated,
        event.rawBody,
        event.verifiedBy,
      ],
    );

    return rows.length > 0 ? rows[0].id : null;
  }

  /**
   * Mark a row `processing` and count the attempt. Returns null when the row is
   * gone or already `processed` or `ignored`, so a duplicate job does nothing.
   * A `failed` row is claimed again: that is a retry an operator asked for.
   */
  async claimForProcessing(tenantId: string, id: string): Promise<ClaimedWebhookEvent | null> {
    // TypeORM's PostgreSQL query runner (typeorm 1.1) returns [rows, rowCount] for an UPDATE.
    const [rows]: [ClaimedRow[], number] = await this.dataSource.query(
      `UPDATE webhook_events
          SET status = 'processing', reason = NULL, attempts = attempts + 1
        WHERE tenant_id = $1 AND id = $2 AND status NOT IN ('processed', 'ignored')
        RETURNING id, tenant_id, stripe_event_id, type, livemode, payload, verified_by, attempts, received_at`,
      [tenantId, id],
    );
    if (rows.length === 0) {
      return null;
    }

    const row = rows[0];

    return {
      id: row.id,
      tenantId: row.tenant_id,
      stripeEventId: row.stripe_event_id,
      type: row.type,
      livemode: row.livemode,
      payload: row.payload,
      verifiedBy: row.verified_by,
      attempts: row.attempts,
      receivedAt: row.received_at,
    };
  }

  /** Store a finished dispatch: `processed`, or `ignored` with its reason. */
  async recordOutcome(tenantId: string, id: string, status: 'processed' | 'ignored', reason: string | null): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhook_events
          SET status = $3, reason = $4, last_error = NULL, processed_at = now()
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id, status, reason],
    );
  }

  /** Mark a row `failed` for good: a permanent error or the last attempt. */
  async recordFailure(tenantId: string, id: string, reason: string, lastError: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhook_events
          SET status = 'failed', reason = $3, last_error = $4
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id, reason, lastError],
    );
  }

  /** Keep the error of an attempt that will be retried; the row stays `processing`. */
  async recordAttemptError(tenantId: string, id: string, lastError: string): Promise<void> {
    await this.dataSource.query(`UPDATE webhook_events SET last_error = $3 WHERE tenant_id = $1 AND id = $2`, [tenantId, id, lastError]);
  }

  /**
   * Rows still `received` or `processing` that arrived more than
   * `olderThanSeconds` ago, oldest first, across tenants: the sweeper's
   * reviewed cross-tenant read.
   */
  async findUnfinished(olderThanSeconds: number, limit: number): Promise<UnfinishedWebhookEvent[]> {
    const rows: { id: string; tenant_id: string; attempts: number }[] = await this.dataSource.query(
      `SELECT id, tenant_id, attempts
         FROM webhook_events
        WHERE status IN ('received', 'processing')
          AND received_at < now() - make_interval(secs => $1)
        ORDER BY received_at
        LIMIT $2`,
      [olderThanSeconds, limit],
    );

    return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, attempts: row.attempts }));
  }
}
