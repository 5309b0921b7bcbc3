import { SetMetadata } from '@nestjs/common';
import { DomainEventClass } from './domain-event';

export const DOMAIN_EVENT_HANDLER = 'billing:domain-event-handler';

export interface DomainEventHandlerMetadata {
  eventClass: DomainEventClass;
  /** Stable name recorded in processed_messages, so a redelivery is recognised after a rename of the method. */
  consumer: string;
}

/**
 * Marks a provider method as a consumer of a domain event delivered from the
 * outbox. Delivery is at least once, so the method must be idempotent; it gets
 * the event and the outbox message id (`(event, messageId) => Promise<void>`).
 */
export const OnDomainEvent = (eventClass: DomainEventClass, consumer: string) =>
  SetMetadata<string, DomainEventHandlerMetadata>(DOMAIN_EVENT_HANDLER, { eventClass, consumer });
