import { AppRoles } from '@app/common/app-roles';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LinkInvoiceWhenInvoiceIssued } from './link-invoice-when-invoice-issued.listener';
import { PaymentEntity } from './payment.entity';
import { PaymentSettlementService } from './payment-settlement.service';
import { PaymentsController } from './payments.controller';
import { PaymentsRepository } from './payments.repository';
import { PaymentsService } from './payments.service';
import { PaymentsStripeEventHandlers } from './stripe-event-handlers';

/**
 * Payments: card payments through the tenant's Stripe account. The Stripe
 * event handlers and the domain-event listener are provided in every role,
 * because the dispatchers of the worker role find them by discovery.
 */
@Module({})
export class PaymentsModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: PaymentsModule,
      imports: [TypeOrmModule.forFeature([PaymentEntity])],
      controllers: roles.api ? [PaymentsController] : [],
      providers: [
        LinkInvoiceWhenInvoiceIssued,
        PaymentSettlementService,
        PaymentsRepository,
        PaymentsService,
        PaymentsStripeEventHandlers,
      ],
    };
  }
}
