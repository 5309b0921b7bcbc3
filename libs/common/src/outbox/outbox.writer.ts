import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { DomainEvent } from '../events/domain-event';
import { OutboxEventEntity } from './outbox-event.entity';

/**
 * Appends domain events to the outbox. It takes the caller's transaction
 * manager on purpose: an event is only real if the state change it announces
 * committed with it.
 */
@Injectable()
export class OutboxWriter {
  async append(manager: EntityManager, ...events: DomainEvent[]): Promise<void> {
    if (events.length === 0) {
      return;
    }

    await manager.getRepository(OutboxEventEntity).insert(
      events.map((event) => ({
        tenantId: event.tenantId,
        eventName: event.name,
        aggregateId: event.aggregateId,
        payload: { ...event.payload } as never,
        occurredAt: new Date(event.occurredAt),
        publishedAt: null,
      })),
    );
  }
}
