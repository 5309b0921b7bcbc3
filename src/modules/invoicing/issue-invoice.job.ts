import { RetryLaterError } from '@app/common/queues/job-errors';
import { isStripeError } from '@app/common/stripe/stripe-error.mapper';
import { Clock } from '@app/common/time/clock';
import { secondsText } from '@app/common/time/seconds-text';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { InvoiceJobData, InvoiceJobQueue } from './invoice-job-queue';
import { InvoiceJobSettings } from './invoice-job-settings';
import { InvoiceStripeClient, IssuingContext } from './invoice-stripe-client';
import { InvoiceStripeSyncService } from './invoice-stripe-sync.service';
import { InvoiceEntity } from './invoice.entity';
import { InvoicesRepository } from './invoices.repository';
import { StripeInvoicesGateway } from './stripe-invoices.gateway';

export type IssueInvoiceJobData = InvoiceJobData;

export type InvoiceJobResult =
  | { result: 'done'; status: string; stripeInvoiceId: string | null }
  | { result: 'skipped'; reason: string };

/**
 * Issues a finalized invoice in Stripe. It creates the draft (send_invoice, payment terms, our
 * number and ids), attaches the items with `invoice=`, and finalizes it. The send job follows.
 *
 * A retry never creates a second Stripe invoice. The Stripe id is stored as soon as Stripe
 * returns it and used first. Where it was never stored but an earlier attempt may have created
 * the invoice, the job searches Stripe by our id in the metadata, and while Stripe's search
 * index may still lag behind that attempt it retries later instead of creating again. Every
 * write carries an idempotency key derived from the invoice id besides.
 */
@Injectable()
export class IssueInvoiceJob {
  private readonly logger = new Logger(IssueInvoiceJob.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly stripeClient: InvoiceStripeClient,
    private readonly gateway: StripeInvoicesGateway,
    private readonly sync: InvoiceStripeSyncService,
    private readonly jobs: InvoiceJobQueue,
    private readonly settings: InvoiceJobSettings,
    private readonly clock: Clock,
  ) {}

  async run(data: IssueInvoiceJobData): Promise<InvoiceJobResult> {
    const invoice = await this.invoices.findEntity(data.tenantId, data.invoiceId);
    if (!invoice) {
      return { result: 'skipped', reason: 'invoice_missing' };
    }
    if (invoice.status !== 'issuing') {
      return { result: 'skipped', reason: `invoice_${invoice.status}` };
    }

    try {
      return await this.issue(invoice, await this.stripeClient.issuingContext(invoice));
    } catch (error) {
      // A void that arrived meanwhile makes whatever failed moot; the void job finishes the Stripe side.
      const current = await this.invoices.findEntity(data.tenantId, data.invoiceId);
      if (current?.status === 'void') {
        this.logger.log({ ...data, number: invoice.number }, 'Invoice was voided while it was being issued; issuing stopped');

        return { result: 'skipped', reason: 'invoice_void' };
      }
      throw error;
    }
  }

  private async issue(invoice: InvoiceEntity, context: IssuingContext): Promise<InvoiceJobResult> {
    const log = { tenantId: invoice.tenantId, invoiceId: invoice.id, number: invoice.number };
    let stripeInvoice = await this.findOrCreateDraft(invoice, context);
    if (!stripeInvoice) {
      return { result: 'skipped', reason: 'invoice_void' };
    }

    if (stripeInvoice.status === 'draft') {
      await this.attachMissingLines(invoice, context, stripeInvoice.id);
      const current = await this.invoices.findEntity(invoice.tenantId, invoice.id);
      if (current?.status !== 'issuing') {
        return { result: 'skipped', reason: `invoice_${current?.status ?? 'missing'}` };
      }
      stripeInvoice = await this.gateway.finalize(context.client, invoice.id, stripeInvoice.id);
    }

    const outcome = await this.sync.apply(invoice.tenantId, invoice.id, stripeInvoice, 'issue job');
    const status = outcome?.to ?? invoice.status;
    if (status === 'open' || status === 'paid' || status === 'uncollectible') {
      await this.jobs.enqueue('send', { tenantId: invoice.tenantId, invoiceId: invoice.id });
    }
    this.logger.log({ ...log, stripeInvoiceId: stripeInvoice.id, status }, 'Invoice issued in Stripe');

    return { result: 'done', status, stripeInvoiceId: stripeInvoice.id };
  }

  /**
   * Returns the Stripe invoice of this invoice, creating the draft when Stripe has none. Returns
   * null when the invoice was voided before anything was created.
   */
  private async findOrCreateDraft(invoice: InvoiceEntity, context: IssuingContext): Promise<Stripe.Invoice | null> {
    const { client } = context;
    if (invoice.stripeInvoiceId !== null) {
      return this.gateway.retrieve(client, invoice.stripeInvoiceId);
    }

    if (invoice.stripeCreateAttemptedAt !== null) {
      const found = await this.gateway.findByInvoiceId(client, invoice);
      if (found) {
        this.logger.log(
          { tenantId: invoice.tenantId, invoiceId: invoice.id, stripeInvoiceId: found.id },
          'Found the Stripe invoice an earlier attempt created, by search',
        );

        return this.adopt(invoice, context, found);
      }

      const sinceAttemptMs = this.clock.now().getTime() - invoice.stripeCreateAttemptedAt.getTime();
      if (sinceAttemptMs < this.settings.searchSettleMs) {
        // The message is also the invoice's stripeError while the job waits, so it speaks to the tenant.
        throw new RetryLaterError(
          `Stripe's search does not show the invoice yet. The create attempt ${secondsText(Math.ceil(sinceAttemptMs / 1000))} ago may have created it, ` +
            `so the job searches again instead of creating it, for up to ${secondsText(Math.ceil(this.settings.searchSettleMs / 1000))} after that attempt`,
        );
      }
      this.logger.log(
        { tenantId: invoice.tenantId, invoiceId: invoice.id, sinceAttemptMs },
        'Stripe search finds no invoice from the earlier attempt; creating it',
      );
    }

    const attemptedAt = this.clock.now();
    if (!(await this.invoices.markCreateAttempt(invoice.tenantId, invoice.id, attemptedAt))) {
      const current = await this.invoices.findEntity(invoice.tenantId, invoice.id);
      if (current?.status === 'issuing' && current.stripeInvoiceId !== null) {
        return this.gateway.retrieve(client, current.stripeInvoiceId);
      }

      return null;
    }

    let created: Stripe.Invoice;
    try {
      created = await this.gateway.createDraft(client, invoice, context.customer);
    } catch (error) {
      if (stripeCreatedNothing(error)) {
        await this.invoices.clearCreateAttempt(invoice.tenantId, invoice.id, attemptedAt);
      }
      throw error;
    }

    return this.adopt(invoice, context, created);
  }

  /** Stores the Stripe id unless another is stored already, which then wins and the new draft goes. */
  private async adopt(invoice: InvoiceEntity, context: IssuingContext, stripeInvoice: Stripe.Invoice): Promise<Stripe.Invoice> {
    const stored = await this.invoices.storeStripeInvoiceId(invoice.tenantId, invoice.id, stripeInvoice.id);
    if (stored === null || stored === stripeInvoice.id) {
      return stripeInvoice;
    }

    this.logger.warn(
      { tenantId: invoice.tenantId, invoiceId: invoice.id, storedStripeInvoiceId: stored, extraStripeInvoiceId: stripeInvoice.id },
      'Invoice already has another Stripe invoice; deleting the extra draft',
    );
    if (stripeInvoice.status === 'draft') {
      await this.gateway.deleteDraft(context.client, stripeInvoice.id);
    }

    return this.gateway.retrieve(context.client, stored);
  }

  /** Adds the lines whose items are not on the Stripe draft yet, in position order. */
  private async attachMissingLines(invoice: InvoiceEntity, context: IssuingContext, stripeInvoiceId: string): Promise<void> {
    const attached = await this.gateway.attachedLinePositions(context.client, stripeInvoiceId);
    const lines = await this.invoices.findLines(invoice.tenantId, invoice.id);
    for (const line of lines) {
      if (!attached.has(line.position)) {
        await this.gateway.addLine(context.client, invoice, context.customer, stripeInvoiceId, line);
      }
    }
  }
}

/**
 * Status codes with which Stripe rejects a request it did not carry out ("an error that failed
 * given the information provided", Stripe API reference, Errors), such as a rejected key (401) or
 * a rate limit (429). 409 is left out, because a concurrent request with the same idempotency key
 * may create the invoice, and so are timeouts and 5xx, whose outcome is unknown.
 */
const CREATED_NOTHING_STATUSES = new Set([400, 401, 402, 403, 404, 429]);

function stripeCreatedNothing(error: unknown): boolean {
  return isStripeError(error) && error.statusCode !== undefined && CREATED_NOTHING_STATUSES.has(error.statusCode);
}
