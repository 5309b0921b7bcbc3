import { queryPrepared } from '@app/common/database/prepared-query';
import { callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import { KeysetPosition, cursorTimestampSql, encodeCursor, toKeysetPage } from '@app/common/pagination/keyset-cursor';
import { REPLAYABLE_WEBHOOK_EVENT_STATUSES } from '@app/contracts/webhooks.contracts';
import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { WebhookEventStatus, WebhookVerifiedBy } from './webhook-event.entity';

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

/** One event's result in a batch insert: the new row's id, null for a duplicate, or the error that kept it out. */
export type WebhookEventInsertResult = { id: string | null } | { error: unknown };

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
  generation: number;
  /** The event's `created`, the inbox's partition key. */
  stripeCreated: number;
}

/** A job's claim on an inbox row: the row, its partition key when the job carries it, and the job generation that owns it. */
export interface WebhookEventClaim {
  id: string;
  generation: number;
  stripeCreated?: number;
}

/** A finished dispatch of a claimed row. */
export interface WebhookEventOutcome {
  id: string;
  stripeCreated: number;
  generation: number;
  status: 'processed' | 'ignored';
  reason: string | null;
}

/** An unfinished row, with the columns the sweeper reads. */
export interface UnfinishedWebhookEvent {
  id: string;
  tenantId: string;
  attempts: number;
  generation: number;
}

/** A row as operators see it; `payload` only when asked for one row. */
export interface WebhookEventRecord {
  id: string;
  tenantId: string;
  stripeEventId: string;
  type: string;
  livemode: boolean;
  status: WebhookEventStatus;
  reason: string | null;
  attempts: number;
  lastError: string | null;
  verifiedBy: WebhookVerifiedBy;
  receivedAt: Date;
  processedAt: Date | null;
  generation: number;
  payload?: Record<string, unknown>;
}

export interface WebhookEventListFilter {
  tenantId?: string;
  status?: WebhookEventStatus;
  type?: string;
  /** Received at or after. */
  since?: Date;
  /** Received before. */
  until?: Date;
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
  job_generation: number;
  /** bigint, which node-postgres returns as a string. */
  stripe_created: string;
}

interface RecordRow {
  id: string;
  tenant_id: string;
  stripe_event_id: string;
  type: string;
  livemode: boolean;
  status: WebhookEventStatus;
  reason: string | null;
  attempts: number;
  last_error: string | null;
  verified_by: WebhookVerifiedBy;
  received_at: Date;
  processed_at: Date | null;
  job_generation: number;
  payload?: Record<string, unknown>;
  keyset_time?: string;
}

const RECORD_COLUMNS = `id, tenant_id, stripe_event_id, type, livemode, status, reason, attempts, last_error, verified_by,
       received_at, processed_at, job_generation`;

/** Statuses a replay starts from: the finished ones. */
export const REPLAYABLE_STATUSES: readonly WebhookEventStatus[] = REPLAYABLE_WEBHOOK_EVENT_STATUSES;

/**
 * The inbox table through plain SQL: intake runs one INSERT per batch of a
 * tenant's deliveries and nothing else, and the worker's updates are single statements, its claims
 * and outcomes one statement per batch of a tenant's rows. The worker's
 * methods are scoped by (tenant_id, id) and the row's job generation, so a job
 * that no longer owns a row changes nothing. The sweeper's and the operators'
 * reads are the reviewed paths that look across tenants.
 */
@Injectable()
export class WebhookEventsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Insert a delivery unless the tenant already has this Stripe event. Returns
   * the new row's id, or null for a duplicate. The payload column is computed
   * from the raw bytes in PostgreSQL, so the body crosses the wire once. The
   * conflict key includes `stripe_created`, the partition key: every delivery
   * of an event carries the same signed `created`, so a redelivery in a later
   * month still meets the first row in its partition.
   */
  async insertIfNew(event: NewWebhookEvent): Promise<string | null> {
    const rows = await queryPrepared<{ id: string }>(
      this.dataSource,
      `INSERT INTO webhook_events
              (tenant_id, stripe_event_id, type, livemode, api_version, stripe_created, raw_body, payload, verified_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, convert_from($7, 'UTF8')::jsonb, $8)
       ON CONFLICT (tenant_id, stripe_event_id, stripe_created) DO NOTHING
       RETURNING id`,
      [event.tenantId, event.stripeEventId, event.type, event.livemode, event.apiVersion, event.stripeCreated, event.rawBody, event.verifiedBy],
      'webhook_events_insert_if_new',
    );

    return rows.length > 0 ? rows[0].id : null;
  }

  /**
   * Insert deliveries of one tenant in one statement, dropping the events the
   * tenant already has. Returns, for each event in order, the new row's id,
   * null for a duplicate, or the error that kept it out. When PostgreSQL
   * rejects a value (SQLSTATE class 22, such as a \u0000 escape that jsonb
   * does not take), the events are inserted again one at a time, so only the
   * unstorable one fails. An event that appears twice in the batch gets its
   * id at its first position.
   */
  async insertBatch(tenantId: string, events: Omit<NewWebhookEvent, 'tenantId'>[]): Promise<WebhookEventInsertResult[]> {
    try {
      return (await this.insertAll(tenantId, events)).map((id) => ({ id }));
    } catch (error) {
      if (!isDataException(error) || events.length === 1) {
        return events.map(() => ({ error }));
      }
    }

    const results: WebhookEventInsertResult[] = [];
    for (const event of events) {
      try {
        results.push({ id: await this.insertIfNew({ tenantId, ...event }) });
      } catch (error) {
        results.push({ error });
      }
    }

    return results;
  }

  private async insertAll(tenantId: string, events: Omit<NewWebhookEvent, 'tenantId'>[]): Promise<(string | null)[]> {
    // Rows are inserted in key order. Each api process batches the deliveries
    // it gets, so two processes can have the same redeliveries in opposite
    // orders. Without a common order each insert could wait on a key the other
    // inserted, and PostgreSQL breaks that deadlock by failing one of them.
    const sorted = [...events].sort(compareKeys);

    // The bodies travel as one binary parameter with each body's offset and
    // length, so no body is decoded into a JavaScript string or escaped into
    // a text array, and PostgreSQL gets the exact bytes for raw_body.
    const offsets: number[] = [];
    const lengths: number[] = [];
    let offset = 1;
    for (const event of sorted) {
      offsets.push(offset);
      lengths.push(event.rawBody.length);
      offset += event.rawBody.length;
    }

    const rows = await queryPrepared<{ id: string; stripe_event_id: string; stripe_created: string }>(
      this.dataSource,
      `INSERT INTO webhook_events
              (tenant_id, stripe_event_id, type, livemode, api_version, stripe_created, raw_body, payload, verified_by)
       SELECT $1, e.stripe_event_id, e.type, e.livemode, e.api_version, e.stripe_created, b.raw, convert_from(b.raw, 'UTF8')::jsonb, e.verified_by
         FROM unnest($2::text[], $3::text[], $4::boolean[], $5::text[], $6::bigint[], $7::text[], $8::int[], $9::int[])
              AS e(stripe_event_id, type, livemode, api_version, stripe_created, verified_by, body_offset, body_length)
        CROSS JOIN LATERAL (SELECT substring($10::bytea FROM e.body_offset FOR e.body_length) AS raw) AS b
       ON CONFLICT (tenant_id, stripe_event_id, stripe_created) DO NOTHING
       RETURNING id, stripe_event_id, stripe_created`,
      [
        tenantId,
        sorted.map((event) => event.stripeEventId),
        sorted.map((event) => event.type),
        sorted.map((event) => event.livemode),
        sorted.map((event) => event.apiVersion),
        sorted.map((event) => event.stripeCreated),
        sorted.map((event) => event.verifiedBy),
        offsets,
        lengths,
        Buffer.concat(sorted.map((event) => event.rawBody)),
      ],
      'webhook_events_insert_batch',
    );

    // bigint comes back as a string, so the key is built from strings on both sides.
    const inserted = new Map(rows.map((row) => [`${row.stripe_event_id}/${row.stripe_created}`, row.id]));

    return events.map((event) => {
      const key = `${event.stripeEventId}/${event.stripeCreated}`;
      const id = inserted.get(key) ?? null;
      inserted.delete(key);

      return id;
    });
  }

  /**
   * Mark rows of one tenant `processing` and count the attempt, in one
   * statement. Returns, for each claim in order, the claimed row, or null when
   * the row is gone, already `processed` or `ignored`, or owned by a job of
   * another generation, so a duplicate or superseded job does nothing. A
   * `failed` row is claimed again by its own job: that is a retry an operator
   * asked for. When the same row and generation appear more than once, only
   * the first of those claims gets the row and the others get null.
   */
  async claimBatch(tenantId: string, claims: WebhookEventClaim[]): Promise<(ClaimedWebhookEvent | null)[]> {
    const keyed = claims.filter((claim) => claim.stripeCreated !== undefined);
    const unkeyed = claims.filter((claim) => claim.stripeCreated === undefined);
    const rows = [...(await this.claimRows(tenantId, keyed, true)), ...(await this.claimRows(tenantId, unkeyed, false))];

    // UPDATE … FROM changes a row once even when several claims match it, so each row is handed out once.
    const unclaimed = new Map(rows.map((row) => [claimKey(row.id, row.job_generation), row]));

    return claims.map((claim) => {
      const key = claimKey(claim.id, claim.generation);
      const row = unclaimed.get(key);
      if (!row) {
        return null;
      }

      unclaimed.delete(key);

      return toClaimed(row);
    });
  }

  /**
   * Claims rows in one statement, by their whole primary key (id, stripe_created)
   * when `byWholeKey`, else by id. The whole key makes each row one index lookup
   * in one partition. By id alone, a partition autovacuum had not analyzed yet,
   * as after a burst into a new month, was planned as a scan of the tenant's rows.
   */
  private async claimRows(tenantId: string, claims: WebhookEventClaim[], byWholeKey: boolean): Promise<ClaimedRow[]> {
    if (claims.length === 0) {
      return [];
    }

    const values: unknown[] = [tenantId, claims.map((claim) => claim.id), claims.map((claim) => claim.generation)];
    let keyArray = '';
    let keyAlias = '';
    let keyCondition = '';
    if (byWholeKey) {
      values.push(claims.map((claim) => claim.stripeCreated));
      keyArray = ', $4::bigint[]';
      keyAlias = ', stripe_created';
      keyCondition = ' AND w.stripe_created = c.stripe_created';
    }

    return queryPrepared<ClaimedRow>(
      this.dataSource,
      `UPDATE webhook_events AS w
          SET status = 'processing', reason = NULL, attempts = w.attempts + 1
         FROM unnest($2::uuid[], $3::int[]${keyArray}) AS c(id, job_generation${keyAlias})
        WHERE w.tenant_id = $1 AND w.id = c.id${keyCondition} AND w.job_generation = c.job_generation
          AND w.status IN ('received', 'processing', 'failed')
        RETURNING ${CLAIMED_COLUMNS}`,
      values,
    );
  }

  /** Store finished dispatches of one tenant in one statement: `processed`, or `ignored` with its reason. */
  async recordOutcomes(tenantId: string, outcomes: WebhookEventOutcome[]): Promise<void> {
    await queryPrepared(
      this.dataSource,
      `UPDATE webhook_events AS w
          SET status = o.status, reason = o.reason, last_error = NULL, processed_at = now()
         FROM unnest($2::uuid[], $3::bigint[], $4::int[], $5::text[], $6::text[]) AS o(id, stripe_created, job_generation, status, reason)
        WHERE w.tenant_id = $1 AND w.id = o.id AND w.stripe_created = o.stripe_created AND w.job_generation = o.job_generation`,
      [
        tenantId,
        outcomes.map((outcome) => outcome.id),
        outcomes.map((outcome) => outcome.stripeCreated),
        outcomes.map((outcome) => outcome.generation),
        outcomes.map((outcome) => outcome.status),
        outcomes.map((outcome) => outcome.reason),
      ],
      'webhook_events_record_outcomes_keyed',
    );
  }

  /** Mark a row `failed` for good: a permanent error or the last attempt. */
  async recordFailure(event: ClaimedWebhookEvent, reason: string, lastError: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhook_events
          SET status = 'failed', reason = $4, last_error = $5
        WHERE tenant_id = $1 AND id = $2 AND job_generation = $3`,
      [event.tenantId, event.id, event.generation, reason, lastError],
    );
  }

  /** Keep the error of an attempt that will be retried; the row stays `processing`. */
  async recordAttemptError(event: ClaimedWebhookEvent, lastError: string): Promise<void> {
    await this.dataSource.query(`UPDATE webhook_events SET last_error = $4 WHERE tenant_id = $1 AND id = $2 AND job_generation = $3`, [
      event.tenantId,
      event.id,
      event.generation,
      lastError,
    ]);
  }

  /**
   * Rows still `received` or `processing` whose job was added more than
   * `olderThanSeconds` ago, oldest first, across tenants, through the
   * SECURITY DEFINER function that is the sweeper's only cross-tenant read.
   */
  async findUnfinished(olderThanSeconds: number, limit: number): Promise<UnfinishedWebhookEvent[]> {
    const rows = await callCrossTenantFunction<{ id: string; tenant_id: string; attempts: number; job_generation: number }>(
      this.dataSource,
      'app_find_unfinished_webhook_events',
      [olderThanSeconds, limit],
    );

    return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, attempts: row.attempts, generation: row.job_generation }));
  }

  /**
   * Hand an unfinished row to a job of the next generation, because its job
   * finished without finishing the row. Returns the new generation, or null
   * when the row changed meanwhile (finished, or moved by someone else).
   */
  async moveToNextGeneration(tenantId: string, id: string, fromGeneration: number): Promise<number | null> {
    const [rows]: [{ job_generation: number }[], number] = await this.dataSource.query(
      `UPDATE webhook_events
          SET job_generation = job_generation + 1, queued_at = now()
        WHERE tenant_id = $1 AND id = $2 AND job_generation = $3 AND status IN ('received', 'processing')
        RETURNING job_generation`,
      [tenantId, id, fromGeneration],
    );

    return rows.length > 0 ? rows[0].job_generation : null;
  }

  /**
   * The tenant of the row with this id, or null when there is none, through
   * the SECURITY DEFINER function app_webhook_event_tenant. Operator routes
   * that name an event by id then read and replay it in that tenant.
   */
  async findTenantId(id: string): Promise<string | null> {
    const [row] = await callCrossTenantFunction<{ result: string | null }>(this.dataSource, 'app_webhook_event_tenant', [id]);

    return row?.result ?? null;
  }

  /** One row by id in any tenant, with its payload; the operators' read. Null for a missing id. */
  async findById(id: string, manager: EntityManager = this.dataSource.manager): Promise<WebhookEventRecord | null> {
    const rows: RecordRow[] = await manager.query(`SELECT ${RECORD_COLUMNS}, payload FROM webhook_events WHERE id = $1`, [id]);

    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  /** Lock one row for a replay, inside the caller's transaction. */
  async lockById(manager: EntityManager, id: string): Promise<WebhookEventRecord | null> {
    const rows: RecordRow[] = await manager.query(`SELECT ${RECORD_COLUMNS} FROM webhook_events WHERE id = $1 FOR UPDATE`, [id]);

    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  /**
   * Put a finished row back to `received` under a job of the next generation,
   * inside the caller's transaction. Returns the new generation.
   */
  async resetForReplay(manager: EntityManager, event: WebhookEventRecord): Promise<number> {
    const [rows]: [{ job_generation: number }[], number] = await manager.query(
      `UPDATE webhook_events
          SET status = 'received', reason = NULL, last_error = NULL, processed_at = NULL,
              job_generation = job_generation + 1, queued_at = now()
        WHERE tenant_id = $1 AND id = $2 AND job_generation = $3
        RETURNING job_generation`,
      [event.tenantId, event.id, event.generation],
    );
    if (rows.length === 0) {
      throw new Error(`Webhook event ${event.id} changed while it was locked for a replay`);
    }

    return rows[0].job_generation;
  }

  /** A page of rows across tenants, newest first by arrival, continuing after `after`. */
  async list(filter: WebhookEventListFilter, limit: number, after?: KeysetPosition): Promise<{ data: WebhookEventRecord[]; nextCursor: string | null }> {
    const { where, parameters } = whereClause(filter);
    if (after) {
      parameters.push(after.createdAt, after.id);
      where.push(`(received_at, id) < ($${parameters.length - 1}::timestamptz, $${parameters.length}::uuid)`);
    }
    parameters.push(limit + 1);

    const rows: RecordRow[] = await this.dataSource.query(
      `SELECT ${RECORD_COLUMNS}, ${cursorTimestampSql('received_at')} AS keyset_time
         FROM webhook_events
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY received_at DESC, id DESC
        LIMIT $${parameters.length}`,
      parameters,
    );
    if (rows.length <= limit) {
      return { data: rows.map(toRecord), nextCursor: null };
    }

    const last = rows[limit - 1];

    return {
      data: rows.slice(0, limit).map(toRecord),
      nextCursor: encodeCursor({ createdAt: last.keyset_time as string, id: last.id }),
    };
  }

  /**
   * A page of every tenant's rows, newest first by arrival, continuing after
   * `after`, through the SECURITY DEFINER function app_list_webhook_events:
   * the operators' unfiltered list, with the same rows and order as `list`.
   */
  async listAcrossTenants(
    filter: Omit<WebhookEventListFilter, 'tenantId'>,
    limit: number,
    after?: KeysetPosition,
  ): Promise<{ data: WebhookEventRecord[]; nextCursor: string | null }> {
    const rows = await callCrossTenantFunction<RecordRow & { keyset_time: string }>(this.dataSource, 'app_list_webhook_events', [
      ...functionFilter(filter),
      after?.createdAt ?? null,
      after?.id ?? null,
      limit + 1,
    ]);

    return toKeysetPage(rows, limit, toRecord);
  }

  /** Count the rows a filter matches, for a dry run. */
  async count(filter: WebhookEventListFilter): Promise<number> {
    const { where, parameters } = whereClause(filter);
    const rows: { count: string }[] = await this.dataSource.query(
      `SELECT count(*) AS count FROM webhook_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`,
      parameters,
    );

    return Number(rows[0].count);
  }

  /** Ids of rows a filter matches, oldest first, so a bulk replay runs events in their arrival order. */
  async findIds(filter: WebhookEventListFilter, limit: number): Promise<string[]> {
    const { where, parameters } = whereClause(filter);
    parameters.push(limit);
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM webhook_events
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY received_at, id
        LIMIT $${parameters.length}`,
      parameters,
    );

    return rows.map((row) => row.id);
  }

  /** Counts every tenant's rows a filter matches, through the SECURITY DEFINER function app_count_webhook_events. */
  async countAcrossTenants(filter: Omit<WebhookEventListFilter, 'tenantId'>): Promise<number> {
    const [row] = await callCrossTenantFunction<{ result: number }>(this.dataSource, 'app_count_webhook_events', functionFilter(filter));

    return row.result;
  }

  /**
   * Id and tenant of every tenant's rows a filter matches, oldest first,
   * through the SECURITY DEFINER function app_find_webhook_events, so a bulk
   * replay across tenants can replay each event in its tenant.
   */
  async findAcrossTenants(filter: Omit<WebhookEventListFilter, 'tenantId'>, limit: number): Promise<{ id: string; tenantId: string }[]> {
    const rows = await callCrossTenantFunction<{ id: string; tenant_id: string }>(this.dataSource, 'app_find_webhook_events', [...functionFilter(filter), limit]);

    return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id }));
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }
}

function claimKey(id: string, generation: number): string {
  return `${id}/${generation}`;
}

/** The columns a claim returns for ClaimedRow. */
const CLAIMED_COLUMNS = 'w.id, w.tenant_id, w.stripe_event_id, w.type, w.livemode, w.payload, w.verified_by, w.attempts, w.received_at, w.job_generation, w.stripe_created';

function toClaimed(row: ClaimedRow): ClaimedWebhookEvent {
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
    generation: row.job_generation,
    stripeCreated: Number(row.stripe_created),
  };
}

function whereClause(filter: WebhookEventListFilter): { where: string[]; parameters: unknown[] } {
  const where: string[] = [];
  const parameters: unknown[] = [];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    parameters.push(value);
    where.push(condition(`$${parameters.length}`));
  };

  if (filter.tenantId !== undefined) {
    add((p) => `tenant_id = ${p}::uuid`, filter.tenantId);
  }
  if (filter.status !== undefined) {
    add((p) => `status = ${p}`, filter.status);
  }
  if (filter.type !== undefined) {
    add((p) => `type = ${p}`, filter.type);
  }
  if (filter.since !== undefined) {
    add((p) => `received_at >= ${p}::timestamptz`, filter.since);
  }
  if (filter.until !== undefined) {
    add((p) => `received_at < ${p}::timestamptz`, filter.until);
  }

  return { where, parameters };
}

/** Returns the filter arguments of the cross-tenant webhook functions in their order. A NULL argument matches every row. */
function functionFilter(filter: Omit<WebhookEventListFilter, 'tenantId'>): unknown[] {
  return [filter.status ?? null, filter.type ?? null, filter.since ?? null, filter.until ?? null];
}

function toRecord(row: RecordRow): WebhookEventRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    stripeEventId: row.stripe_event_id,
    type: row.type,
    livemode: row.livemode,
    status: row.status,
    reason: row.reason,
    attempts: row.attempts,
    lastError: row.last_error,
    verifiedBy: row.verified_by,
    receivedAt: row.received_at,
    processedAt: row.processed_at,
    generation: row.job_generation,
    ...(row.payload !== undefined ? { payload: row.payload } : {}),
  };
}

/** SQLSTATE class 22: PostgreSQL rejected a value, so the database itself is fine. */
export function isDataException(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown } }).driverError;
  const code = driverError?.code ?? (error as { code?: unknown }).code;

  return typeof code === 'string' && code.startsWith('22');
}

/** Orders events by their inbox key within one tenant: the Stripe event id, then its created time. */
function compareKeys(a: Pick<NewWebhookEvent, 'stripeEventId' | 'stripeCreated'>, b: Pick<NewWebhookEvent, 'stripeEventId' | 'stripeCreated'>): number {
  if (a.stripeEventId !== b.stripeEventId) {
    return a.stripeEventId < b.stripeEventId ? -1 : 1;
  }

  return a.stripeCreated - b.stripeCreated;
}
