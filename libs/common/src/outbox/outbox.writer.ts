import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { DomainEvent } from '../events/domain-event';
import { OutboxEventEntity } from './outbox-event.entity';

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

    const sequences = await this.allocateSequences(manager, events);
    await manager.getRepository(OutboxEventEntity).insert(
      events.map((event, index) => ({
        tenantId: event.tenantId,
        eventName: event.name,
        aggregateId: event.aggregateId,
        aggregateSequence: sequences[index],
        payload: { ...event.payload } as never,
        occurredAt: new Date(event.occurredAt),
        publishedAt: null,
      })),
    );
  }

  /** Reserve `count` numbers per aggregate and return each event's number, in the order of `events`. */
  private async allocateSequences(manager: EntityManager, events: DomainEvent[]): Promise<number[]> {
    const counts = new Map<string, { tenantId: string; aggregateId: string; count: number }>();
    for (const event of events) {
      const key = aggregateKey(event.tenantId, event.aggregateId);
      const entry = counts.get(key) ?? { tenantId: event.tenantId, aggregateId: event.aggregateId, count: 0 };
      entry.count++;
      counts.set(key, entry);
    }

    // Lock the counter rows in one order, so two transactions writing the same aggregates never deadlock on them.
    const next = new Map<string, number>();
    for (const [key, entry] of [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const rows: { last_sequence: string }[] = await manager.query(
        `INSERT INTO outbox_aggregate_sequences (tenant_id, aggregate_id, last_sequence)
         VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, aggregate_id)
         DO UPDATE SET last_sequence = outbox_aggregate_sequences.last_sequence + EXCLUDED.last_sequence
         RETURNING last_sequence`,
        [entry.tenantId, entry.aggregateId, entry.count],
      );
      next.set(key, Number(rows[0].last_sequence) - entry.count + 1);
    }

    return events.map((event) => {
      const key = aggregateKey(event.tenantId, event.aggregateId);
      const sequence = next.get(key) as number;
      next.set(key, sequence + 1);

      return sequence;
    });
  }
}

function aggregateKey(tenantId: string, aggregateId: string): string {
  return `${tenantId}/${aggregateId}`;
}
