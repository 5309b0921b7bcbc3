import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { DynamicModule, Logger, Module, OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { RepeatedErrorLog } from '../logging/repeated-error-log';
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
export class OutboxModule implements OnModuleInit {
  private readonly logger = new Logger(OutboxModule.name);

  constructor(@InjectQueue(QUEUE_DOMAIN_EVENTS) private readonly queue: Queue) {}

  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: OutboxModule,
      imports: [
        TypeOrmModule.forFeature([OutboxEventEntity, ProcessedMessageEntity]),
        BullModule.registerQueue({ name: QUEUE_DOMAIN_EVENTS, defaultJobOptions: defaultJobOptions(DOMAIN_EVENT_ATTEMPTS) }),
      ],
      providers: roles.worker ? [ConsumerPositions, DomainEventsProcessor, OutboxRelay] : [],
      exports: roles.worker ? [OutboxRelay] : [],
    };
  }

  onModuleInit(): void {
    // BullMQ queues emit `error` on every failed reconnect; unheard, each becomes a console.error line.
    const errors = new RepeatedErrorLog(this.logger, 'domain-events queue connection error');
    this.queue.on('error', (error) => errors.record(error));
  }
}
