import { AppRoles } from '@app/common/app-roles';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { InvoiceCalendarService } from './invoice-calendar.service';
import { InvoiceLineEntity } from './invoice-line.entity';
import { InvoiceNumberingService } from './invoice-numbering.service';
import { InvoiceEntity } from './invoice.entity';
import { InvoicesController } from './invoices.controller';
import { InvoicesRepository } from './invoices.repository';
import { InvoicesService } from './invoices.service';
import { IssueInvoiceWhenPaymentSucceeded } from './issue-invoice-when-payment-succeeded.listener';

/**
 * Invoicing: invoices, lines and number sequences. The domain-event listener
 * is provided in every role; only the worker role's dispatcher calls it.
 */
@Module({})
export class InvoicingModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: InvoicingModule,
      imports: [TypeOrmModule.forFeature([InvoiceEntity, InvoiceLineEntity])],
      controllers: roles.api ? [InvoicesController] : [],
      providers: [
        InvoiceCalendarService,
        InvoiceNumberingService,
        InvoicesRepository,
        InvoicesService,
        IssueInvoiceWhenPaymentSucceeded,
      ],
    };
  }
}
