import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { DomainEvent } from '../events/domain-event';

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
   * Reserve the next numbers of one aggregate and insert its events with
   * them, in one statement: the events get last_sequence - count + 1 up to
   * last_sequence, in the order given.
   */
  private async appendToAggregate(manager: EntityManager, events: DomainEvent[]): Promise<void> {
    const { tenantId, aggregateId } = events[0];
    await manager.query(
      `WITH reserved AS (
         INSERT INTO outbox_aggregate_sequences (tenant_id, aggregate_id, last_sequence)
         VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, aggregate_id)
         DO UPDATE SET last_sequence = outbox_aggregate_sequences.last_sequence + EXCLUDED.last_sequence
         RETURNING last_sequence
       )
       INSERT INTO outbox_events (tenant_id, event_name, aggregate_id, aggregate_sequence, payload, occurred_at, published_at)
       SELECT $1, e.event_name, $2, reserved.last_sequence - $3 + e.position, e.payload, e.occurred_at, NULL
         FROM reserved, unnest($4::text[], $5::jsonb[], $6::timestamptz[]) WITH ORDINALITY AS e(event_name, payload, occurred_at, position)`,
      [
        tenantId,
        aggregateId,
        events.length,
        events.map((event) => event.name),
        events.map((event) => JSON.stringify({ ...event.payload })),
        events.map((event) => new Date(event.occurredAt).toISOString()),
      ],
    );
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
