import { OnDomainEvent } from '@app/common/events/on-domain-event.decorator';
import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { InvoiceIssuedEvent } from '@app/contracts/invoicing.contracts';
import { PaymentSucceededEvent } from '@app/contracts/payments.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InvoiceCalendarService } from './invoice-calendar.service';
import { calendarYearInZone } from './invoice-number';
import { nextNumberExpressions } from './invoice-numbering.service';
import { ISSUED_PAID_INVOICE, InvoicesRepository } from './invoices.repository';

const CONSUMER = 'invoicing.issue-paid-invoice';
const DEFAULT_LINE_DESCRIPTION = 'Card payment';

/**
 * Issues a paid invoice for every succeeded card payment, so every payment
 * has an invoice number. Claim, number, invoice and the InvoiceIssued event
 * are written by one statement, so they commit together and a redelivered
 * event changes nothing.
 */
@Injectable()
export class IssueInvoiceWhenPaymentSucceeded {
  private readonly logger = new Logger(IssueInvoiceWhenPaymentSucceeded.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly calendar: InvoiceCalendarService,
    private readonly outbox: OutboxWriter,
  ) {}

  @OnDomainEvent(PaymentSucceededEvent, CONSUMER)
  async handle(event: PaymentSucceededEvent, messageId: string): Promise<void> {
    const { tenantId } = event;
    const payment = event.payload;
    // Read before the statement, so the sequence row is locked no longer than needed.
    const timeZone = await this.calendar.timeZoneOf(tenantId);
    const issuedAt = this.calendar.now();
    const mode = payment.livemode ? 'live' : 'test';
    const invoiceId = randomUUID();
    // The statement writes the number into the event's payload.
    const issued = new InvoiceIssuedEvent(tenantId, invoiceId, {
      invoiceId,
      number: null as unknown as string,
      paymentId: payment.paymentId,
      total: payment.amount,
      currency: payment.currency,
    });

    const outcome = await this.invoices.claimAndIssuePaidInvoice({
      claim: { consumer: CONSUMER, messageId },
      invoice: {
        id: invoiceId,
        tenantId,
        paymentId: payment.paymentId,
        customerId: payment.customerId,
        currency: payment.currency,
        total: payment.amount,
        livemode: payment.livemode,
        issuedAt,
        paidAt: new Date(payment.succeededAt),
      },
      // A description of "" is stored as sent, and an invoice line needs text.
      line: { description: payment.description || DEFAULT_LINE_DESCRIPTION },
      numberExpressions: (parameters, tenantIdSql, onlyIfRowsIn) =>
        nextNumberExpressions(parameters, { tenantIdSql, mode, yearSql: parameters.add(calendarYearInZone(issuedAt, timeZone), 'int'), onlyIfRowsIn }),
      writeWith: (parameters) => [
        this.outbox.appendExpressions(parameters, [issued], {
          onlyIfRowsIn: ISSUED_PAID_INVOICE,
          payloadPatch: `jsonb_build_object('number', ${ISSUED_PAID_INVOICE}.number)`,
        }),
      ],
    });
    if (!outcome.claimed) {
      return;
    }
    if (outcome.existingInvoiceId !== null) {
      this.logger.log({ tenantId, paymentId: payment.paymentId, invoiceId: outcome.existingInvoiceId }, 'Payment already has an invoice');

      return;
    }

    this.logger.log({ tenantId, paymentId: payment.paymentId, invoiceId, number: outcome.number }, 'Paid invoice issued for a card payment');
  }
}
