import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnModuleInit } from '@nestjs/common';
import { Job } from 'bullmq';
import { RequestContext } from '../context/request-context';
import { DiscoveredMethod, MethodDiscovery } from '../discovery/method-discovery';
import { DOMAIN_EVENT_HANDLER, DomainEventHandlerMetadata } from '../events/on-domain-event.decorator';
import { QUEUE_DOMAIN_EVENTS } from '../queues/queue-names';
import { WORKER_CONNECTION } from '../queues/redis-connection';
import { DomainEventJobData } from './outbox-event.entity';

/**
 * Delivers each relayed domain event to every consumer declared with
 * `@OnDomainEvent`, inside the event's tenant. A failing consumer fails the job
 * and the job's retries run every consumer again, which is why consumers claim
 * the message in processed_messages before acting.
 */
@Processor(QUEUE_DOMAIN_EVENTS, { concurrency: 20, connection: WORKER_CONNECTION })
export class DomainEventsProcessor extends WorkerHost implements OnModuleInit {
  private readonly logger = new Logger(DomainEventsProcessor.name);
  private handlers = new Map<string, DiscoveredMethod<DomainEventHandlerMetadata>[]>();

  constructor(
    private readonly discovery: MethodDiscovery,
    private readonly context: RequestContext,
  ) {
    super();
  }

  onModuleInit(): void {
    for (const handler of this.discovery.findMethods<DomainEventHandlerMetadata>(DOMAIN_EVENT_HANDLER)) {
      const name = handler.metadata.eventClass.eventName;
      this.handlers.set(name, [...(this.handlers.get(name) ?? []), handler]);
    }
  }

  async process(job: Job<DomainEventJobData>): Promise<{ consumers: number }> {
    const { data } = job;
    const handlers = this.handlers.get(data.eventName) ?? [];

    await this.context.runAsTenant(data.tenantId, async () => {
      for (const handler of handlers) {
        const { eventClass } = handler.metadata;
        const event = new eventClass(data.tenantId, data.aggregateId, data.payload as never, data.occurredAt);
        await handler.invoke(event, data.messageId);
        this.logger.debug(
          { tenantId: data.tenantId, messageId: data.messageId, event: data.eventName, consumer: handler.metadata.consumer },
          'Domain event consumed',
        );
      }
    });

    return { consumers: handlers.length };
  }
}
