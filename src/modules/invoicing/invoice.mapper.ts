import { InvoiceResponse } from './dto/invoice.response';
import type { InvoiceWithLines } from './invoices.repository';

/**
 * Builds the response body field by field, so no stored column leaks by accident. `overdue` is
 * what the overdue check last set; the database allows it only on open invoices.
 */
export function toInvoiceResponse({ invoice, lines }: InvoiceWithLines): InvoiceResponse {
  return {
    id: invoice.id,
    number: invoice.number,
    status: invoice.status,
    overdue: invoice.overdue,
    customerId: invoice.customerId,
    paymentId: invoice.paymentId,
    currency: invoice.currency,
    lines: lines.map((line) => ({
      description: line.description,
      quantity: line.quantity,
      unitAmount: line.unitAmount,
      amount: line.amount,
    })),
    total: invoice.total,
    amountPaid: invoice.amountPaid,
    amountRefunded: invoice.amountRefunded,
    dueDate: invoice.dueDate,
    livemode: invoice.livemode,
    hostedInvoiceUrl: invoice.hostedInvoiceUrl,
    pdfUrl: invoice.pdfUrl,
    stripeInvoiceId: invoice.stripeInvoiceId,
    memo: invoice.memo,
    issuedAt: invoice.issuedAt?.toISOString() ?? null,
    paidAt: invoice.paidAt?.toISOString() ?? null,
    voidedAt: invoice.voidedAt?.toISOString() ?? null,
    createdAt: invoice.createdAt.toISOString(),
    daysUntilDue: invoice.daysUntilDue,
    sentAt: invoice.sentAt?.toISOString() ?? null,
    stripeError:
      invoice.stripeErrorCode !== null && invoice.stripeErrorJob !== null && invoice.stripeErrorAt !== null
        ? { job: invoice.stripeErrorJob, code: invoice.stripeErrorCode, message: invoice.stripeErrorMessage ?? '', failedAt: invoice.stripeErrorAt.toISOString() }
        : null,
  };
}
