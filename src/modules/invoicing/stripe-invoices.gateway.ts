import { TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { Injectable, Logger } from '@nestjs/common';
import Stripe from 'stripe';
import type { CustomerEntity } from './customer.entity';
import type { InvoiceLineEntity } from './invoice-line.entity';
import type { InvoiceEntity } from './invoice.entity';
import { INVOICE_ID_METADATA_KEY, LINE_POSITION_METADATA_KEY, TENANT_ID_METADATA_KEY } from './stripe-metadata';

/**
 * The Stripe calls of invoice issuing. Every write carries an idempotency key derived from the
 * invoice id (and the line's position), so a retried job repeats a call without a second
 * effect for as long as Stripe keeps the key (at least 24 hours).
 */
@Injectable()
export class StripeInvoicesGateway {
  private readonly logger = new Logger(StripeInvoicesGateway.name);

  /**
   * Creates the draft: `send_invoice` with the invoice's payment terms and our number, and our
   * ids in the metadata. Pending invoice items are left off (`exclude`, Stripe's default), so
   * the items are attached with `invoice=` afterwards.
   */
  async createDraft(client: TenantStripeClient, invoice: InvoiceEntity, customer: CustomerEntity): Promise<Stripe.Invoice> {
    if (invoice.number === null || invoice.daysUntilDue === null) {
      throw new Error(`Invoice ${invoice.id} is issued without a number or payment terms`);
    }

    return client.stripe.invoices.create(
      {
        customer: customer.stripeCustomerId,
        collection_method: 'send_invoice',
        days_until_due: invoice.daysUntilDue,
        currency: invoice.currency,
        number: invoice.number,
        // Stripe refuses an empty description, which the API stores for a memo of "".
        description: invoice.memo || undefined,
        auto_advance: false,
        pending_invoice_items_behavior: 'exclude',
        metadata: { [INVOICE_ID_METADATA_KEY]: invoice.id, [TENANT_ID_METADATA_KEY]: invoice.tenantId },
      },
      { idempotencyKey: `invoice-${invoice.id}-create` },
    );
  }

  async retrieve(client: TenantStripeClient, stripeInvoiceId: string): Promise<Stripe.Invoice> {
    return client.stripe.invoices.retrieve(stripeInvoiceId);
  }

  /**
   * Searches Stripe for the invoice by our id in its metadata. Stripe's search index lags
   * (under a minute normally, by Stripe's documentation), so finding nothing does not prove
   * that nothing exists. With several matches the oldest one is the invoice.
   */
  async findByInvoiceId(client: TenantStripeClient, invoice: InvoiceEntity): Promise<Stripe.Invoice | null> {
    const result = await client.stripe.invoices.search({
      query: `metadata['${INVOICE_ID_METADATA_KEY}']:'${invoice.id}'`,
      limit: 10,
    });
    const ours = result.data
      .filter((candidate) => candidate.metadata?.[TENANT_ID_METADATA_KEY] === invoice.tenantId)
      .sort((a, b) => a.created - b.created);
    if (ours.length > 1) {
      this.logger.warn(
        { tenantId: invoice.tenantId, invoiceId: invoice.id, stripeInvoiceIds: ours.map((candidate) => candidate.id) },
        'Stripe holds several invoices for one invoice; the oldest is used',
      );
    }

    return ours[0] ?? null;
  }

  /** Returns the line positions whose invoice items are already on the Stripe invoice. */
  async attachedLinePositions(client: TenantStripeClient, stripeInvoiceId: string): Promise<Set<number>> {
    const positions = new Set<number>();
    await client.stripe.invoices.listLineItems(stripeInvoiceId, { limit: 100 }).autoPagingEach((line) => {
      const position = Number(line.metadata?.[LINE_POSITION_METADATA_KEY]);
      if (Number.isInteger(position)) {
        positions.add(position);
      }
    });

    return positions;
  }

  /** Adds one line as an invoice item on the draft (`invoice=`), with its quantity and unit amount. */
  async addLine(
    client: TenantStripeClient,
    invoice: InvoiceEntity,
    customer: CustomerEntity,
    stripeInvoiceId: string,
    line: InvoiceLineEntity,
  ): Promise<Stripe.InvoiceItem> {
    return client.stripe.invoiceItems.create(
      {
        customer: customer.stripeCustomerId,
        invoice: stripeInvoiceId,
        currency: invoice.currency,
        description: line.description,
        quantity: line.quantity,
        unit_amount_decimal: Stripe.Decimal.from(String(line.unitAmount)),
        metadata: { [INVOICE_ID_METADATA_KEY]: invoice.id, [LINE_POSITION_METADATA_KEY]: String(line.position) },
      },
      { idempotencyKey: `invoice-${invoice.id}-line-${line.position}` },
    );
  }

  /** Finalizes the draft without Stripe's automatic collection, since the service sends the invoice itself. */
  async finalize(client: TenantStripeClient, invoiceId: string, stripeInvoiceId: string): Promise<Stripe.Invoice> {
    return client.stripe.invoices.finalizeInvoice(stripeInvoiceId, { auto_advance: false }, { idempotencyKey: `invoice-${invoiceId}-finalize` });
  }

  async send(client: TenantStripeClient, invoiceId: string, stripeInvoiceId: string): Promise<Stripe.Invoice> {
    return client.stripe.invoices.sendInvoice(stripeInvoiceId, {}, { idempotencyKey: `invoice-${invoiceId}-send` });
  }

  async void(client: TenantStripeClient, invoiceId: string, stripeInvoiceId: string): Promise<Stripe.Invoice> {
    return client.stripe.invoices.voidInvoice(stripeInvoiceId, {}, { idempotencyKey: `invoice-${invoiceId}-void` });
  }

  /** Deletes a Stripe draft; drafts cannot be voided. */
  async deleteDraft(client: TenantStripeClient, stripeInvoiceId: string): Promise<void> {
    await client.stripe.invoices.del(stripeInvoiceId);
  }
}
