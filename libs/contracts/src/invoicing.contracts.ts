import { DomainEvent } from '@app/common/events/domain-event';

export class InvoiceIssuedEvent extends DomainEvent<{
  invoiceId: string;
  number: string;
  paymentId: string | null;
  total: number;
  currency: string;
}> {
  static override readonly eventName = 'invoicing.invoice_issued';
}

export class InvoicePaidEvent extends DomainEvent<{ invoiceId: string; number: string; paymentId: string | null }> {
  static override readonly eventName = 'invoicing.invoice_paid';
}

export class InvoiceVoidedEvent extends DomainEvent<{ invoiceId: string; number: string | null }> {
  static override readonly eventName = 'invoicing.invoice_voided';
}
