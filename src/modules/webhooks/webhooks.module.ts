import { AppRoles } from '@app/common/app-roles';
import { QUEUE_WEBHOOK_EVENTS, WEBHOOK_EVENT_ATTEMPTS, defaultJobOptions } from '@app/common/queues/queue-names';
import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { DynamicModule, Logger, Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Queue } from 'bullmq';
import { RepeatedErrorLog } from '@app/common/logging/repeated-error-log';
import { WebhookEventEntity } from './webhook-event.entity';
import { WebhookEventsProcessor } from './webhook-events.processor';
import { WebhookEventsRepository } from './webhook-events.repository';
import { WebhookEventsSweeper } from './webhook-events.sweeper';
import { WebhookIntakeService } from './webhook-intake.service';
import { WebhooksController } from './webhooks.controller';

/**
 * Webhooks: intake of Stripe deliveries into the inbox (api role) and their
 * dispatch to the handlers other contexts declare with `@OnStripeEvent`, plus
 * the sweeper (worker role). It exports nothing.
 */
@Module({})
export class WebhooksModule implements OnModuleInit {
  private readonly logger = new Logger(WebhooksModule.name);

  constructor(@InjectQueue(QUEUE_WEBHOOK_EVENTS) private readonly queue: Queue) {}

  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: WebhooksModule,
      imports: [
        BullModule.registerQueue({ name: QUEUE_WEBHOOK_EVENTS, defaultJobOptions: defaultJobOptions(WEBHOOK_EVENT_ATTEMPTS) }),
        TypeOrmModule.forFeature([WebhookEventEntity]),
      ],
      controllers: roles.api ? [WebhooksController] : [],
      providers: [
        WebhookEventsRepository,
        ...(roles.api ? [WebhookIntakeService] : []),
        ...(roles.worker ? [WebhookEventsProcessor, WebhookEventsSweeper] : []),
      ],
    };
  }

  onModuleInit(): void {
    // A BullMQ queue emits `error` on every failed reconnect; without a listener that would crash the process.
    const errors = new RepeatedErrorLog(this.logger, 'webhook-events queue connection error');
    this.queue.on('error', (error) => errors.record(error));
  }
}
