import { OnDomainEvent } from '@app/common/events/on-domain-event.decorator';
import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { InvoiceIssuedEvent } from '@app/contracts/invoicing.contracts';
import { PaymentSucceededEvent } from '@app/contracts/payments.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { InvoiceCalendarService } from './invoice-calendar.service';
import { InvoiceNumberingService } from './invoice-numbering.service';
import { InvoicesRepository } from './invoices.repository';

const CONSUMER = 'invoicing.issue-paid-invoice';
const DEFAULT_LINE_DESCRIPTION = 'Card payment';

/**
 * Issues a paid invoice for every succeeded card payment, so every payment
 * has an invoice number. Claim, number, invoice and the InvoiceIssued event
 * commit together, so a redelivered event changes nothing.
 */
@Injectable()
export class IssueInvoiceWhenPaymentSucceeded {
  private readonly logger = new Logger(IssueInvoiceWhenPaymentSucceeded.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly numbering: InvoiceNumberingService,
    private readonly calendar: InvoiceCalendarService,
    private readonly outbox: OutboxWriter,
  ) {}

  @OnDomainEvent(PaymentSucceededEvent, CONSUMER)
  async handle(event: PaymentSucceededEvent, messageId: string): Promise<void> {
    const { tenantId } = event;
    const payment = event.payload;
    // Read before the transaction, so the sequence row is locked no longer than needed.
    const timeZone = await this.calendar.timeZoneOf(tenantId);

    await this.invoices.transaction(async (manager) => {
      const { claimed, invoiceId } = await this.invoices.claimMessageAndFindPaymentInvoice(manager, { consumer: CONSUMER, messageId }, tenantId, payment.paymentId);
      if (!claimed) {
        return;
      }

      if (invoiceId !== null) {
        this.logger.log({ tenantId, paymentId: payment.paymentId, invoiceId }, 'Payment already has an invoice');

        return;
      }

      const issuedAt = this.calendar.now();
      const number = await this.numbering.allocate(manager, {
        tenantId,
        mode: payment.livemode ? 'live' : 'test',
        issuedAt,
        timeZone,
      });
      const invoice = await this.invoices.insertWithLines(
        manager,
        {
          tenantId,
          number,
          status: 'paid',
          customerId: payment.customerId,
          paymentId: payment.paymentId,
          currency: payment.currency,
          total: payment.amount,
          amountPaid: payment.amount,
          amountRefunded: 0,
          dueDate: null,
          livemode: payment.livemode,
          hostedInvoiceUrl: null,
          pdfUrl: null,
          stripeInvoiceId: null,
          memo: null,
          issuedAt,
          paidAt: new Date(payment.succeededAt),
          voidedAt: null,
          daysUntilDue: null,
          overdue: false,
          stripeCreateAttemptedAt: null,
          sentAt: null,
          stripeVoidConfirmedAt: null,
          amountRefundedAsOf: null,
          finalizeIdempotencyKeyId: null,
        },
        [{ description: payment.description ?? DEFAULT_LINE_DESCRIPTION, quantity: 1, unitAmount: payment.amount, amount: payment.amount }],
      );
      await this.outbox.append(
        manager,
        new InvoiceIssuedEvent(tenantId, invoice.id, {
          invoiceId: invoice.id,
          number,
          paymentId: payment.paymentId,
          total: invoice.total,
          currency: invoice.currency,
        }),
      );
      this.logger.log({ tenantId, paymentId: payment.paymentId, invoiceId: invoice.id, number }, 'Paid invoice issued for a card payment');
    });
  }
}
