import { registerQueues } from '@app/common/queues/logged-queue';
import { AppRoles } from '@app/common/app-roles';
import { QUEUE_DOMAIN_EVENTS, QUEUE_INVOICES, QUEUE_MAINTENANCE, QUEUE_PAYMENTS, QUEUE_WEBHOOK_EVENTS, WEBHOOK_EVENT_ATTEMPTS, defaultJobOptions } from '@app/common/queues/queue-names';
import { WEBHOOKS_ADMIN } from '@app/contracts/webhooks.contracts';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule } from '@bull-board/nestjs';
import { DynamicModule, Module, Provider } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BullBoardAuthMiddleware } from './bull-board-auth.middleware';
import { QueueOperationsService } from './queue-operations.service';
import { QueuesOpsController } from './queues-ops.controller';
import { StripeObjectConfirmation } from './stripe-object-confirmation';
import { WebhookEventEntity } from './webhook-event.entity';
import { WebhookEventsOpsController } from './webhook-events-ops.controller';
import { WebhookEventsProcessor } from './webhook-events.processor';
import { WebhookEventsRepository } from './webhook-events.repository';
import { WebhookEventsSweeper } from './webhook-events.sweeper';
import { WebhookIntakeService } from './webhook-intake.service';
import { WebhookReplayService } from './webhook-replay.service';
import { WebhookSignatureFailureLimiter } from './webhook-signature-failure.limiter';
import { WebhooksAdminService } from './webhooks-admin.service';
import { WebhooksController } from './webhooks.controller';

/** The path of Bull Board's dashboard, served to operator sessions only. */
export const BULL_BOARD_ROUTE = '/ops/queues';

/** The operators' services over the inbox and every queue, shared by the ops routes and the CLI. */
const ADMIN_PROVIDERS: Provider[] = [
  QueueOperationsService,
  WebhookReplayService,
  WebhooksAdminService,
  { provide: WEBHOOKS_ADMIN, useExisting: WebhooksAdminService },
];

/** Queue handles the operators' services read and retry; the other queues' own modules register their workers. */
const OTHER_QUEUES = [
  registerQueues({ name: QUEUE_DOMAIN_EVENTS }),
  registerQueues({ name: QUEUE_INVOICES }),
  registerQueues({ name: QUEUE_PAYMENTS }),
  registerQueues({ name: QUEUE_MAINTENANCE }),
];

/**
 * Webhooks. The api role takes Stripe deliveries into the inbox and serves the
 * ops routes over the inbox and the queues, and Bull Board. The worker role
 * dispatches stored events to the handlers other contexts declare with
 * `@OnStripeEvent`, and runs the sweeper. The module exports WEBHOOKS_ADMIN
 * only, for the ops CLI.
 */
@Module({})
export class WebhooksModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: WebhooksModule,
      imports: [
        registerQueues({ name: QUEUE_WEBHOOK_EVENTS, defaultJobOptions: defaultJobOptions(WEBHOOK_EVENT_ATTEMPTS) }),
        TypeOrmModule.forFeature([WebhookEventEntity]),
        ...(roles.api ? [...OTHER_QUEUES, ...bullBoard()] : []),
      ],
      controllers: roles.api ? [QueuesOpsController, WebhookEventsOpsController, WebhooksController] : [],
      providers: [
        WebhookEventsRepository,
        ...(roles.api ? [WebhookIntakeService, WebhookSignatureFailureLimiter, ...ADMIN_PROVIDERS] : []),
        ...(roles.worker ? [StripeObjectConfirmation, WebhookEventsProcessor, WebhookEventsSweeper] : []),
      ],
    };
  }

  /** The inbox and queue operations without HTTP routes or workers, for the ops CLI. */
  static forCli(): DynamicModule {
    return {
      module: WebhooksModule,
      imports: [
        registerQueues({ name: QUEUE_WEBHOOK_EVENTS, defaultJobOptions: defaultJobOptions(WEBHOOK_EVENT_ATTEMPTS) }),
        TypeOrmModule.forFeature([WebhookEventEntity]),
        ...OTHER_QUEUES,
      ],
      providers: [WebhookEventsRepository, ...ADMIN_PROVIDERS],
      exports: [WEBHOOKS_ADMIN],
    };
  }

}

function bullBoard(): DynamicModule[] {
  return [
    BullBoardModule.forRoot({
      route: BULL_BOARD_ROUTE,
      adapter: ExpressAdapter,
      middleware: BullBoardAuthMiddleware,
      boardOptions: { uiConfig: { boardTitle: 'Billing queues' } },
    }),
    BullBoardModule.forFeature(
      { name: QUEUE_WEBHOOK_EVENTS, adapter: BullMQAdapter },
      { name: QUEUE_DOMAIN_EVENTS, adapter: BullMQAdapter },
      { name: QUEUE_INVOICES, adapter: BullMQAdapter },
      { name: QUEUE_PAYMENTS, adapter: BullMQAdapter },
      { name: QUEUE_MAINTENANCE, adapter: BullMQAdapter },
    ),
  ];
}
