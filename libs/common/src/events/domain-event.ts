/**
 * A fact one context publishes for others: named in the past tense, carrying a
 * tenant, the aggregate it is about, when it happened, and plain values (ids,
 * amounts), never an entity and never a secret. Subclasses add no fields, only
 * a static `eventName` and the payload type, so an event read back from the
 * outbox is the same frozen object that was written.
 */
export abstract class DomainEvent<TPayload extends object = object> {
  static readonly eventName: string;

  readonly tenantId: string;
  readonly aggregateId: string;
  readonly payload: Readonly<TPayload>;
  readonly occurredAt: string;

  constructor(tenantId: string, aggregateId: string, payload: TPayload, occurredAt: string = new Date().toISOString()) {
    this.tenantId = tenantId;
    this.aggregateId = aggregateId;
    this.payload = Object.freeze({ ...payload });
    this.occurredAt = occurredAt;
    Object.freeze(this);
  }

  get name(): string {
    return (this.constructor as DomainEventClass).eventName;
  }
}

export interface DomainEventClass<TEvent extends DomainEvent = DomainEvent> {
  readonly eventName: string;
  new (tenantId: string, aggregateId: string, payload: never, occurredAt?: string): TEvent;
}
