import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { SqlParameters } from '../database/sql-parameters';
import { DomainEvent } from '../events/domain-event';

/** Options that tie the events of `appendExpressions` to the rest of the caller's statement. */
export interface AppendOptions {
  /** The name of an earlier expression of the statement: nothing is written when it returns no row. */
  onlyIfRowsIn?: string;
  /**
   * A jsonb expression over the one row of `onlyIfRowsIn`, merged into every payload, for a
   * value the statement itself computes, such as a number it takes.
   */
  payloadPatch?: string;
}

/**
 * Appends domain events to the outbox. It takes the caller's transaction
 * manager on purpose: an event is only real if the state change it announces
 * committed with it.
 *
 * Each event gets the next sequence number of its aggregate (tenant and
 * aggregate id), in the order given. The counter row stays locked until the
 * caller's transaction ends, so writers of one aggregate take turns and a
 * rollback returns the numbers.
 */
@Injectable()
export class OutboxWriter {
  async append(manager: EntityManager, ...events: DomainEvent[]): Promise<void> {
    if (events.length === 0) {
      return;
    }

    // Lock the counter rows in sorted key order, so two calls appending to the same aggregates wait for each other instead of deadlocking.
    const groups = groupByAggregate(events);
    const keys = [...groups.keys()].sort();
    for (const key of keys) {
      await this.appendToAggregate(manager, groups.get(key) as DomainEvent[]);
    }
  }

  /**
   * Writes the common table expressions that append `events`, all of one
   * aggregate, as part of the caller's statement: `outbox_reserved` reserves
   * the numbers and `outbox_appended` inserts the events. The counter row
   * stays locked until the statement's transaction ends, as with `append`.
   */
  appendExpressions(parameters: SqlParameters, events: DomainEvent[], options: AppendOptions = {}): string {
    if (events.length === 0) {
      throw new Error('appendExpressions needs at least one event');
    }
    const { tenantId, aggregateId } = events[0];
    if (events.some((event) => event.tenantId !== tenantId || event.aggregateId !== aggregateId)) {
      throw new Error('appendExpressions takes the events of one aggregate; call append for events of several');
    }
    const { onlyIfRowsIn, payloadPatch } = options;
    if (payloadPatch !== undefined && onlyIfRowsIn === undefined) {
      throw new Error('appendExpressions takes a payloadPatch only with onlyIfRowsIn, whose row the patch reads');
    }

    const tenant = parameters.add(tenantId, 'uuid');
    const aggregate = parameters.add(aggregateId, 'text');
    const count = parameters.add(events.length, 'bigint');
    const names = parameters.add(events.map((event) => event.name), 'text[]');
    const payloads = parameters.add(events.map((event) => JSON.stringify({ ...event.payload })), 'jsonb[]');
    const occurredAt = parameters.add(events.map((event) => new Date(event.occurredAt).toISOString()), 'timestamptz[]');
    const condition = onlyIfRowsIn === undefined ? '' : `WHERE EXISTS (SELECT 1 FROM ${onlyIfRowsIn})`;
    const payload = payloadPatch === undefined ? 'e.payload' : `e.payload || ${payloadPatch}`;
    const patchSource = payloadPatch === undefined ? '' : `${onlyIfRowsIn}, `;

    // The events get last_sequence - count + 1 up to last_sequence, in the order given.
    return `outbox_reserved AS (
         INSERT INTO outbox_aggregate_sequences (tenant_id, aggregate_id, last_sequence)
         SELECT ${tenant}, ${aggregate}, ${count} ${condition}
         ON CONFLICT (tenant_id, aggregate_id)
         DO UPDATE SET last_sequence = outbox_aggregate_sequences.last_sequence + EXCLUDED.last_sequence
         RETURNING last_sequence
       ),
       outbox_appended AS (
         INSERT INTO outbox_events (tenant_id, event_name, aggregate_id, aggregate_sequence, payload, occurred_at, published_at)
         SELECT ${tenant}, e.event_name, ${aggregate}, outbox_reserved.last_sequence - ${count} + e.position, ${payload}, e.occurred_at, NULL
           FROM outbox_reserved, ${patchSource}unnest(${names}, ${payloads}, ${occurredAt}) WITH ORDINALITY AS e(event_name, payload, occurred_at, position)
         RETURNING id
       )`;
  }

  /** Reserves the next numbers of one aggregate and inserts its events with them, in one statement. */
  private async appendToAggregate(manager: EntityManager, events: DomainEvent[]): Promise<void> {
    const parameters = new SqlParameters();
    const expressions = this.appendExpressions(parameters, events);
    await manager.query(`WITH ${expressions} SELECT count(*) FROM outbox_appended`, parameters.values);
  }
}

/** Group events by aggregate (tenant and aggregate id), keeping their order within each group. */
function groupByAggregate(events: DomainEvent[]): Map<string, DomainEvent[]> {
  const groups = new Map<string, DomainEvent[]>();
  for (const event of events) {
    const key = `${event.tenantId}/${event.aggregateId}`;
    groups.set(key, [...(groups.get(key) ?? []), event]);
  }

  return groups;
}
