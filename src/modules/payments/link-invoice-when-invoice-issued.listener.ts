import { OnDomainEvent } from '@app/common/events/on-domain-event.decorator';
import { InvoiceIssuedEvent } from '@app/contracts/invoicing.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { PaymentsRepository } from './payments.repository';

const CONSUMER = 'payments.link-invoice';

/** Records on a payment the invoice Invoicing issued for it. */
@Injectable()
export class LinkInvoiceWhenInvoiceIssued {
  private readonly logger = new Logger(LinkInvoiceWhenInvoiceIssued.name);

  constructor(private readonly payments: PaymentsRepository) {}

  @OnDomainEvent(InvoiceIssuedEvent, CONSUMER)
  async handle(event: InvoiceIssuedEvent, messageId: string): Promise<void> {
    const { invoiceId, paymentId } = event.payload;
    if (!paymentId) {
      return;
    }

    const { claimed, linked } = await this.payments.claimAndLinkInvoice({ consumer: CONSUMER, messageId }, event.tenantId, paymentId, invoiceId);
    if (claimed && !linked) {
      this.logger.warn({ tenantId: event.tenantId, paymentId, invoiceId, messageId }, 'Invoice issued for a payment that is not stored');
    }
  }
}
