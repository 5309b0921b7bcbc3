import { InvoiceResponse } from './dto/invoice.response';
import type { InvoiceWithLines } from './invoices.repository';

/**
 * Builds the response body field by field. `today` is the tenant's current
 * date (`YYYY-MM-DD`); an open invoice due before it is overdue.
 */
export function toInvoiceResponse({ invoice, lines }: InvoiceWithLines, today: string): InvoiceResponse {
  return {
    id: invoice.id,
    number: invoice.number,
    status: invoice.status,
    overdue: invoice.status === 'open' && invoice.dueDate !== null && invoice.dueDate < today,
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
  };
}
