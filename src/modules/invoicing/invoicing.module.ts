import { registerQueues } from '@app/common/queues/logged-queue';
import { AppRoles } from '@app/common/app-roles';
import { INVOICE_JOB_ATTEMPTS, QUEUE_INVOICES, defaultJobOptions } from '@app/common/queues/queue-names';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CustomerEntity } from './customer.entity';
import { CustomersController } from './customers.controller';
import { CustomersRepository } from './customers.repository';
import { CustomersService } from './customers.service';
import { InvoiceCalendarService } from './invoice-calendar.service';
import { InvoiceDraftsService } from './invoice-drafts.service';
import { InvoiceJobErrors } from './invoice-job-errors';
import { InvoiceJobQueue } from './invoice-job-queue';
import { InvoiceJobScheduler } from './invoice-job-scheduler';
import { InvoiceJobSettings } from './invoice-job-settings';
import { InvoiceLifecycleService } from './invoice-lifecycle.service';
import { InvoiceLineEntity } from './invoice-line.entity';
import { InvoiceNumberingService } from './invoice-numbering.service';
import { InvoiceStripeClient } from './invoice-stripe-client';
import { InvoiceStripeSyncService } from './invoice-stripe-sync.service';
import { InvoiceEntity } from './invoice.entity';
import { InvoicesController } from './invoices.controller';
import { InvoicesProcessor } from './invoices.processor';
import { InvoicesRepository } from './invoices.repository';
import { InvoicesService } from './invoices.service';
import { IssueInvoiceWhenPaymentSucceeded } from './issue-invoice-when-payment-succeeded.listener';
import { IssueInvoiceJob } from './issue-invoice.job';
import { MarkOverdueInvoicesJob } from './mark-overdue-invoices.job';
import { ReconcileInvoicesJob } from './reconcile-invoices.job';
import { RecordRefundWhenPaymentRefunded } from './record-refund-when-payment-refunded.listener';
import { ResumeInvoiceJobsWhenKeysChange } from './resume-invoice-jobs-when-keys-change.listener';
import { SendInvoiceJob } from './send-invoice.job';
import { InvoicingStripeEventHandlers } from './stripe-event-handlers';
import { StripeInvoicesGateway } from './stripe-invoices.gateway';
import { SweepInvoiceJobsJob } from './sweep-invoice-jobs.job';
import { VoidInvoiceJob } from './void-invoice.job';

/**
 * Invoicing: customers, invoices, lines, number sequences and the invoice jobs. The Stripe
 * event handlers and domain-event listeners are provided in every role, because the worker
 * role's dispatchers find them by discovery. The processor and the job schedulers run in the
 * worker role only. The module exports nothing.
 */
@Module({})
export class InvoicingModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: InvoicingModule,
      imports: [
        registerQueues({ name: QUEUE_INVOICES, defaultJobOptions: defaultJobOptions(INVOICE_JOB_ATTEMPTS) }),
        TypeOrmModule.forFeature([CustomerEntity, InvoiceEntity, InvoiceLineEntity]),
      ],
      controllers: roles.api ? [CustomersController, InvoicesController] : [],
      providers: [
        CustomersRepository,
        CustomersService,
        InvoiceCalendarService,
        InvoiceDraftsService,
        InvoiceJobErrors,
        InvoiceJobQueue,
        InvoiceJobSettings,
        InvoiceLifecycleService,
        InvoiceNumberingService,
        InvoiceStripeClient,
        InvoiceStripeSyncService,
        InvoicesRepository,
        InvoicesService,
        InvoicingStripeEventHandlers,
        IssueInvoiceWhenPaymentSucceeded,
        RecordRefundWhenPaymentRefunded,
        ResumeInvoiceJobsWhenKeysChange,
        StripeInvoicesGateway,
        ...(roles.worker
          ? [
              InvoiceJobScheduler,
              InvoicesProcessor,
              IssueInvoiceJob,
              MarkOverdueInvoicesJob,
              ReconcileInvoicesJob,
              SendInvoiceJob,
              SweepInvoiceJobsJob,
              VoidInvoiceJob,
            ]
          : []),
      ],
    };
  }

}
