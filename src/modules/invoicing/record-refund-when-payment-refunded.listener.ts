import { OnDomainEvent } from '@app/common/events/on-domain-event.decorator';
import { claimMessage } from '@app/common/outbox/processed-message.entity';
import { RetryLaterError } from '@app/common/queues/job-errors';
import { PaymentRefundedEvent } from '@app/contracts/payments.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { InvoicesRepository } from './invoices.repository';

const CONSUMER = 'invoicing.record-refund';

/**
 * Shows a card payment's refunds on its invoice as `amountRefunded`. The issued invoice keeps
 * its number, lines and total: a refund is recorded beside them, never by changing them.
 */
@Injectable()
export class RecordRefundWhenPaymentRefunded {
  private readonly logger = new Logger(RecordRefundWhenPaymentRefunded.name);

  constructor(private readonly invoices: InvoicesRepository) {}

  @OnDomainEvent(PaymentRefundedEvent, CONSUMER)
  async handle(event: PaymentRefundedEvent, messageId: string): Promise<void> {
    const { tenantId } = event;
    const { paymentId, refundId, amountRefunded } = event.payload;
    const occurredAt = new Date(event.occurredAt);
    const log = { tenantId, paymentId, refundId, messageId };

    await this.invoices.transaction(async (manager) => {
      if (!(await claimMessage(manager, CONSUMER, messageId, tenantId))) {
        return;
      }

      const invoice = await this.invoices.lockByPaymentId(manager, tenantId, paymentId);
      if (!invoice) {
        // The claim rolls back with this error, so the retry handles the event again.
        throw new RetryLaterError(`Payment ${paymentId} has no invoice yet; recording refund ${refundId} later`);
      }
      if (invoice.amountRefundedAsOf !== null && invoice.amountRefundedAsOf > occurredAt) {
        this.logger.debug({ ...log, invoiceId: invoice.id }, 'Refund event is older than the one already recorded; ignored');

        return;
      }

      const recorded = Math.min(Math.max(amountRefunded, 0), invoice.total);
      await this.invoices.update(manager, tenantId, invoice.id, { amountRefunded: recorded, amountRefundedAsOf: occurredAt });
      this.logger.log({ ...log, invoiceId: invoice.id, number: invoice.number, amountRefunded: recorded }, 'Refund recorded on the invoice');
    });
  }
}
