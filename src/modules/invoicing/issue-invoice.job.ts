import { RetryLaterError } from '@app/common/queues/job-errors';
import { isStripeError } from '@app/common/stripe/stripe-error.mapper';
import { Clock } from '@app/common/time/clock';
import { secondsText } from '@app/common/time/seconds-text';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { InvoiceJobData, InvoiceJobObservation, InvoiceJobQueue } from './invoice-job-queue';
import { InvoiceJobSettings } from './invoice-job-settings';
import { InvoiceStripeClient, IssuingContext } from './invoice-stripe-client';
import { InvoiceStripeSyncService } from './invoice-stripe-sync.service';
import { InvoiceLineEntity } from './invoice-line.entity';
import { InvoiceEntity } from './invoice.entity';
import { InvoicesRepository } from './invoices.repository';
import { StripeInvoicesGateway } from './stripe-invoices.gateway';

export type IssueInvoiceJobData = InvoiceJobData;

/** The Stripe invoice of an invoice, and whether this attempt created it as the first create of the invoice. */
interface StripeDraft {
  stripeInvoice: Stripe.Invoice;
  createdFirst: boolean;
}

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

  async run(data: IssueInvoiceJobData, observation: InvoiceJobObservation = {}): Promise<InvoiceJobResult> {
    // The customer and the lines are never updated, so reading them with the invoice up front is as current as later.
    const found = await this.invoices.findWithCustomerAndLines(data.tenantId, data.invoiceId);
    if (!found) {
      return { result: 'skipped', reason: 'invoice_missing' };
    }
    const { invoice, lines } = found;
    observation.stripeErrorJob = invoice.stripeErrorJob;
    if (invoice.status !== 'issuing') {
      return { result: 'skipped', reason: `invoice_${invoice.status}` };
    }

    try {
      return await this.issue(invoice, lines, await this.stripeClient.issuingContextWith(invoice, found.customer));
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

  private async issue(invoice: InvoiceEntity, lines: InvoiceLineEntity[], context: IssuingContext): Promise<InvoiceJobResult> {
    const log = { tenantId: invoice.tenantId, invoiceId: invoice.id, number: invoice.number };
    const draft = await this.findOrCreateDraft(invoice, context);
    if (!draft) {
      return { result: 'skipped', reason: 'invoice_void' };
    }

    let { stripeInvoice } = draft;
    let current: InvoiceEntity | null = null;
    if (stripeInvoice.status === 'draft') {
      await this.attachMissingLines(invoice, lines, context, stripeInvoice.id, draft.createdFirst);
      current = await this.invoices.findEntity(invoice.tenantId, invoice.id);
      if (current?.status !== 'issuing') {
        return { result: 'skipped', reason: `invoice_${current?.status ?? 'missing'}` };
      }
      stripeInvoice = await this.gateway.finalize(context.client, invoice.id, stripeInvoice.id);
    }

    const outcome = current
      ? await this.sync.applyOptimistically(current, stripeInvoice, 'issue job')
      : await this.sync.apply(invoice.tenantId, invoice.id, stripeInvoice, 'issue job');
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
  private async findOrCreateDraft(invoice: InvoiceEntity, context: IssuingContext): Promise<StripeDraft | null> {
    const { client } = context;
    if (invoice.stripeInvoiceId !== null) {
      return { stripeInvoice: await this.gateway.retrieve(client, invoice.stripeInvoiceId), createdFirst: false };
    }

    if (invoice.stripeCreateAttemptedAt !== null) {
      const found = await this.gateway.findByInvoiceId(client, invoice);
      if (found) {
        this.logger.log(
          { tenantId: invoice.tenantId, invoiceId: invoice.id, stripeInvoiceId: found.id },
          'Found the Stripe invoice an earlier attempt created, by search',
        );

        return { stripeInvoice: await this.adopt(invoice, context, found), createdFirst: false };
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
        return { stripeInvoice: await this.gateway.retrieve(client, current.stripeInvoiceId), createdFirst: false };
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

    const adopted = await this.adopt(invoice, context, created);
    // Without an earlier create attempt, the create key cannot have returned an older draft, so
    // the draft is new and has no items, unless another draft was stored first and won. An
    // item a concurrent attempt attached meanwhile is no duplicate, because adding a line again
    // with its idempotency key returns the same item.
    const createdFirst = invoice.stripeCreateAttemptedAt === null && adopted.id === created.id;

    return { stripeInvoice: adopted, createdFirst };
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

  /**
   * Adds the lines whose items are not on the Stripe draft yet, in position order. A draft this
   * attempt created first has none, so Stripe is not asked for its items then.
   */
  private async attachMissingLines(
    invoice: InvoiceEntity,
    lines: InvoiceLineEntity[],
    context: IssuingContext,
    stripeInvoiceId: string,
    createdFirst: boolean,
  ): Promise<void> {
    const attached = createdFirst ? new Set<number>() : await this.gateway.attachedLinePositions(context.client, stripeInvoiceId);
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
