import { RetryLaterError } from '@app/common/queues/job-errors';
import { isStripeError } from '@app/common/stripe/stripe-error.mapper';
import { Clock } from '@app/common/time/clock';
import { secondsText } from '@app/common/time/seconds-text';
import { TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { InvoiceJobData } from './invoice-job-queue';
import { InvoiceJobSettings } from './invoice-job-settings';
import { InvoiceStripeClient } from './invoice-stripe-client';
import { InvoiceStripeSyncService } from './invoice-stripe-sync.service';
import { InvoiceEntity } from './invoice.entity';
import { InvoicesRepository } from './invoices.repository';
import type { InvoiceJobResult } from './issue-invoice.job';
import { StripeInvoicesGateway } from './stripe-invoices.gateway';

export type VoidInvoiceJobData = InvoiceJobData;

/**
 * Brings Stripe in line with a local void: voids the open or uncollectible Stripe invoice
 * (idempotency key `invoice-<id>-void`), deletes a Stripe draft (drafts cannot be voided), and
 * confirms at once when Stripe never had the invoice. A Stripe invoice paid before the void
 * reached it keeps the invoice paid.
 */
@Injectable()
export class VoidInvoiceJob {
  private readonly logger = new Logger(VoidInvoiceJob.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly stripeClient: InvoiceStripeClient,
    private readonly gateway: StripeInvoicesGateway,
    private readonly sync: InvoiceStripeSyncService,
    private readonly settings: InvoiceJobSettings,
    private readonly clock: Clock,
  ) {}

  async run(data: VoidInvoiceJobData): Promise<InvoiceJobResult> {
    const invoice = await this.invoices.findEntity(data.tenantId, data.invoiceId);
    if (!invoice) {
      return { result: 'skipped', reason: 'invoice_missing' };
    }
    if (invoice.status !== 'void') {
      return { result: 'skipped', reason: `invoice_${invoice.status}` };
    }
    if (invoice.stripeVoidConfirmedAt !== null) {
      return { result: 'skipped', reason: 'already_voided_in_stripe' };
    }

    const client = await this.stripeClient.clientFor(invoice.tenantId);
    const stripeInvoice = await this.locate(client, invoice);
    if (!stripeInvoice) {
      await this.invoices.confirmVoid(invoice.tenantId, invoice.id, this.clock.now());
      this.logger.log(
        { tenantId: invoice.tenantId, invoiceId: invoice.id, number: invoice.number },
        'Voided invoice was never created in Stripe; nothing to void there',
      );

      return { result: 'done', status: 'void', stripeInvoiceId: null };
    }

    return this.bringInLine(client, invoice, stripeInvoice, true);
  }

  /**
   * Voids, deletes or accepts the Stripe invoice by its status. When Stripe refuses because the
   * invoice changed meanwhile (the issuing job finalized the draft a moment ago), it reads the
   * invoice again and decides once more.
   */
  private async bringInLine(
    client: TenantStripeClient,
    invoice: InvoiceEntity,
    stripeInvoice: Stripe.Invoice,
    mayRetry: boolean,
  ): Promise<InvoiceJobResult> {
    const log = { tenantId: invoice.tenantId, invoiceId: invoice.id, number: invoice.number, stripeInvoiceId: stripeInvoice.id };
    try {
      switch (stripeInvoice.status) {
        case 'draft':
          await this.gateway.deleteDraft(client, stripeInvoice.id);
          await this.invoices.confirmVoid(invoice.tenantId, invoice.id, this.clock.now());
          this.logger.log(log, 'Deleted the Stripe draft of a voided invoice');
          break;
        case 'open':
        case 'uncollectible': {
          const voided = await this.gateway.void(client, invoice.id, stripeInvoice.id);
          await this.sync.apply(invoice.tenantId, invoice.id, voided, 'void job');
          this.logger.log(log, 'Invoice voided in Stripe');
          break;
        }
        case 'paid':
          await this.sync.correctVoidToPaid(invoice.tenantId, invoice.id, stripeInvoice);

          return { result: 'done', status: 'paid', stripeInvoiceId: stripeInvoice.id };
        default:
          await this.sync.apply(invoice.tenantId, invoice.id, stripeInvoice, 'void job');
      }
    } catch (error) {
      if (!mayRetry || !isStripeError(error) || error.statusCode !== 400) {
        throw error;
      }

      const reread = await this.gateway.retrieve(client, stripeInvoice.id);
      if (reread.status === stripeInvoice.status) {
        throw error;
      }
      this.logger.log({ ...log, from: stripeInvoice.status, to: reread.status }, 'Stripe invoice changed while it was being voided; deciding again');

      return this.bringInLine(client, invoice, reread, false);
    }

    return { result: 'done', status: 'void', stripeInvoiceId: stripeInvoice.id };
  }

  /**
   * The Stripe invoice of a voided invoice: by the stored id, else by search when an issuing
   * attempt may have created one. Null when Stripe never had it, or no longer has it (a draft an
   * earlier attempt deleted).
   */
  private async locate(client: TenantStripeClient, invoice: InvoiceEntity): Promise<Stripe.Invoice | null> {
    if (invoice.stripeInvoiceId !== null) {
      try {
        return await this.gateway.retrieve(client, invoice.stripeInvoiceId);
      } catch (error) {
        if (isStripeError(error) && error.statusCode === 404) {
          return null;
        }
        throw error;
      }
    }
    if (invoice.stripeCreateAttemptedAt === null) {
      return null;
    }

    const found = await this.gateway.findByInvoiceId(client, invoice);
    if (found) {
      const stored = await this.invoices.storeStripeInvoiceId(invoice.tenantId, invoice.id, found.id);

      return stored === found.id ? found : this.gateway.retrieve(client, stored ?? found.id);
    }

    const sinceAttemptMs = this.clock.now().getTime() - invoice.stripeCreateAttemptedAt.getTime();
    if (sinceAttemptMs < this.settings.searchSettleMs) {
      // The message is also the invoice's stripeError while the job waits, so it speaks to the tenant.
      throw new RetryLaterError(
        `Stripe's search does not show the invoice yet. The issuing attempt ${secondsText(Math.ceil(sinceAttemptMs / 1000))} ago may have created it, ` +
          `so the void searches again, for up to ${secondsText(Math.ceil(this.settings.searchSettleMs / 1000))} after that attempt`,
      );
    }

    return null;
  }
}
