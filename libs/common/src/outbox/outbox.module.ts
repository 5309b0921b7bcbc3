import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppRoles } from '../app-roles';
import { QUEUE_DOMAIN_EVENTS } from '../queues/queue-names';
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
        BullModule.registerQueue({ name: QUEUE_DOMAIN_EVENTS }),
      ],
      providers: roles.worker ? [DomainEventsProcessor, OutboxRelay] : [],
      exports: roles.worker ? [OutboxRelay] : [],
    };
  }
}
