import { OnDomainEvent } from '@app/common/events/on-domain-event.decorator';
import { claimMessage } from '@app/common/outbox/processed-message.entity';
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

    await this.payments.transaction(async (manager) => {
      if (!(await claimMessage(manager, CONSUMER, messageId, event.tenantId))) {
        return;
      }

      const linked = await this.payments.linkInvoice(manager, event.tenantId, paymentId, invoiceId);
      if (!linked) {
        this.logger.warn({ tenantId: event.tenantId, paymentId, invoiceId, messageId }, 'Invoice issued for a payment that is not stored');
      }
    });
  }
}
