import { OnStripeEvent, StripeEventContext, StripeEventOutcome } from '@app/common/stripe/on-stripe-event.decorator';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { EntityManager } from 'typeorm';
import { InvoiceStripeSyncService } from './invoice-stripe-sync.service';
import { InvoiceEntity } from './invoice.entity';
import { InvoicesRepository } from './invoices.repository';
import { INVOICE_ID_METADATA_KEY, TENANT_ID_METADATA_KEY } from './stripe-metadata';
import { isUuid } from './uuid';

const PROCESSED: StripeEventOutcome = { result: 'processed' };
const UNKNOWN_OBJECT: StripeEventOutcome = { result: 'ignored', reason: 'unknown_object' };

/**
 * Keeps invoices in step with Stripe's invoice events, in any delivery order. Each event's
 * invoice moves the local status forward only (see `nextStatus`), so a late `invoice.finalized`
 * never reopens a paid invoice. Invoices that anyone but the service created in the tenant's
 * Stripe account carry none of our ids, so their events end ignored (`unknown_object`) and
 * never take a number.
 */
@Injectable()
export class InvoicingStripeEventHandlers {
  private readonly logger = new Logger(InvoicingStripeEventHandlers.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly sync: InvoiceStripeSyncService,
  ) {}

  @OnStripeEvent('invoice.finalized', 'invoice.paid', 'invoice.payment_failed', 'invoice.voided', 'invoice.marked_uncollectible')
  async onInvoiceEvent(event: Stripe.Event, context: StripeEventContext): Promise<StripeEventOutcome> {
    const stripeInvoice = event.data.object as Stripe.Invoice;

    return this.invoices.transaction(async (manager) => {
      const invoice = await this.lockInvoice(manager, context.tenantId, stripeInvoice, event);
      if (!invoice) {
        return UNKNOWN_OBJECT;
      }

      const outcome = await this.sync.applyLocked(manager, invoice, stripeInvoice, `webhook ${event.type}`);
      if (!outcome.matched) {
        return UNKNOWN_OBJECT;
      }
      if (event.type === 'invoice.payment_failed') {
        this.logger.log(
          { tenantId: context.tenantId, invoiceId: invoice.id, number: invoice.number, stripeEventId: event.id, attempts: stripeInvoice.attempt_count },
          'A payment attempt on the invoice failed in Stripe',
        );
      }

      return PROCESSED;
    });
  }

  /**
   * Finds and locks the invoice an event is about: by the stored Stripe id, else by our ids in
   * the Stripe invoice's metadata when the event beat the issuing job's own response. Null for
   * an invoice that is not the service's.
   */
  private async lockInvoice(
    manager: EntityManager,
    tenantId: string,
    stripeInvoice: Stripe.Invoice,
    event: Stripe.Event,
  ): Promise<InvoiceEntity | null> {
    const byStripeId = await this.invoices.lockByStripeInvoiceId(manager, tenantId, stripeInvoice.id);
    if (byStripeId) {
      return byStripeId;
    }

    const invoiceId = stripeInvoice.metadata?.[INVOICE_ID_METADATA_KEY];
    const log = { tenantId, stripeEventId: event.id, type: event.type, stripeInvoiceId: stripeInvoice.id, invoiceId };
    if (!invoiceId || !isUuid(invoiceId) || stripeInvoice.metadata?.[TENANT_ID_METADATA_KEY] !== tenantId) {
      this.logger.debug(log, 'Stripe event about an invoice the service did not create');

      return null;
    }

    const byMetadata = await this.invoices.lockById(manager, tenantId, invoiceId);
    if (!byMetadata || byMetadata.paymentId !== null || byMetadata.status === 'draft') {
      // Invoices are stored, numbered and moved out of draft before Stripe ever receives them.
      this.logger.warn(log, 'Stripe invoice names an invoice of ours that cannot be issued in Stripe; ignored');

      return null;
    }

    return byMetadata;
  }
}
