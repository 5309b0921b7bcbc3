import { registerQueues } from '@app/common/queues/logged-queue';
import { AppRoles } from '@app/common/app-roles';
import { PAYMENT_JOB_ATTEMPTS, PAYMENT_JOB_BACKOFF_BASE_DELAY_MS, QUEUE_PAYMENTS, defaultJobOptions } from '@app/common/queues/queue-names';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LinkInvoiceWhenInvoiceIssued } from './link-invoice-when-invoice-issued.listener';
import { PaymentEntity } from './payment.entity';
import { PaymentSettlementService } from './payment-settlement.service';
import { PaymentsController } from './payments.controller';
import { PaymentsProcessor } from './payments.processor';
import { PaymentsRepository } from './payments.repository';
import { PaymentsService } from './payments.service';
import { RefundEntity } from './refund.entity';
import { RefundSettlementService } from './refund-settlement.service';
import { RefundSubmissionService } from './refund-submission.service';
import { RefundSyncService } from './refund-sync.service';
import { RefundsController } from './refunds.controller';
import { RefundsRepository } from './refunds.repository';
import { RefundsService } from './refunds.service';
import { RefundsSweeper } from './refunds.sweeper';
import { UnansweredPaymentsSweeper } from './unanswered-payments.sweeper';
import { StripeObjectReader } from './stripe-object.reader';
import { PaymentsStripeEventHandlers } from './stripe-event-handlers';
import { SubmitRefundJobs } from './submit-refund.job';

/**
 * Payments: card payments and their refunds through the tenant's Stripe
 * account. The Stripe event handlers and the domain-event listener are
 * provided in every role, because the dispatchers of the worker role find
 * them by discovery. The refund job processor and sweeper run in workers only.
 */
@Module({})
export class PaymentsModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: PaymentsModule,
      imports: [
        registerQueues({
          name: QUEUE_PAYMENTS,
          defaultJobOptions: {
            ...defaultJobOptions(PAYMENT_JOB_ATTEMPTS),
            backoff: { type: 'exponential', delay: PAYMENT_JOB_BACKOFF_BASE_DELAY_MS },
          },
        }),
        TypeOrmModule.forFeature([PaymentEntity, RefundEntity]),
      ],
      controllers: roles.api ? [PaymentsController, RefundsController] : [],
      providers: [
        LinkInvoiceWhenInvoiceIssued,
        PaymentSettlementService,
        PaymentsRepository,
        PaymentsService,
        PaymentsStripeEventHandlers,
        RefundSettlementService,
        RefundSubmissionService,
        RefundSyncService,
        RefundsRepository,
        RefundsService,
        StripeObjectReader,
        SubmitRefundJobs,
        ...(roles.worker ? [PaymentsProcessor, RefundsSweeper, UnansweredPaymentsSweeper] : []),
      ],
    };
  }

}
