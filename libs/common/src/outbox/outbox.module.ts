import { registerQueues } from '../queues/logged-queue';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppRoles } from '../app-roles';
import { ConsumerPositions } from './consumer-positions';
import { DOMAIN_EVENT_ATTEMPTS, QUEUE_DOMAIN_EVENTS, defaultJobOptions } from '../queues/queue-names';
import { DomainEventsProcessor } from './domain-events.processor';
import { OutboxEventEntity } from './outbox-event.entity';
import { OutboxRelay } from './outbox.relay';
import { ProcessedMessageEntity } from './processed-message.entity';

/** The relay and the domain-event dispatcher run in worker processes only. */
@Module({})
export class OutboxModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: OutboxModule,
      imports: [
        TypeOrmModule.forFeature([OutboxEventEntity, ProcessedMessageEntity]),
        registerQueues({ name: QUEUE_DOMAIN_EVENTS, defaultJobOptions: defaultJobOptions(DOMAIN_EVENT_ATTEMPTS) }),
      ],
      providers: roles.worker ? [ConsumerPositions, DomainEventsProcessor, OutboxRelay] : [],
      exports: roles.worker ? [OutboxRelay] : [],
    };
  }

}
