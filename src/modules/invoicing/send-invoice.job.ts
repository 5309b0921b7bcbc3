import { Clock } from '@app/common/time/clock';
import { Injectable, Logger } from '@nestjs/common';
import { InvoiceJobData, InvoiceJobObservation } from './invoice-job-queue';
import { InvoiceStripeClient } from './invoice-stripe-client';
import { InvoiceStripeSyncService } from './invoice-stripe-sync.service';
import { InvoicesRepository } from './invoices.repository';
import type { InvoiceJobResult } from './issue-invoice.job';
import { StripeInvoicesGateway } from './stripe-invoices.gateway';

export type SendInvoiceJobData = InvoiceJobData;

const SENDABLE = ['open', 'paid', 'uncollectible'];

/**
 * Has Stripe send an issued invoice to the customer (`POST /v1/invoices/:id/send`, idempotency
 * key `invoice-<id>-send`) and records when. A void invoice is not sent.
 */
@Injectable()
export class SendInvoiceJob {
  private readonly logger = new Logger(SendInvoiceJob.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly stripeClient: InvoiceStripeClient,
    private readonly gateway: StripeInvoicesGateway,
    private readonly sync: InvoiceStripeSyncService,
    private readonly clock: Clock,
  ) {}

  async run(data: SendInvoiceJobData, observation: InvoiceJobObservation = {}): Promise<InvoiceJobResult> {
    const invoice = await this.invoices.findEntity(data.tenantId, data.invoiceId);
    if (!invoice) {
      return { result: 'skipped', reason: 'invoice_missing' };
    }
    observation.stripeErrorJob = invoice.stripeErrorJob;
    if (invoice.sentAt !== null) {
      return { result: 'skipped', reason: 'already_sent' };
    }
    if (!SENDABLE.includes(invoice.status) || invoice.stripeInvoiceId === null) {
      return { result: 'skipped', reason: `invoice_${invoice.status}` };
    }

    const client = await this.stripeClient.clientFor(invoice.tenantId);
    const current = await this.gateway.retrieve(client, invoice.stripeInvoiceId);
    if (current.status === 'void' || current.status === 'draft') {
      await this.sync.apply(invoice.tenantId, invoice.id, current, 'send job');

      return { result: 'skipped', reason: `stripe_invoice_${current.status}` };
    }

    const sent = await this.gateway.send(client, invoice.id, invoice.stripeInvoiceId);
    await this.invoices.markSent(invoice.tenantId, invoice.id, this.clock.now());
    await this.sync.applyOptimistically(invoice, sent, 'send job');
    this.logger.log(
      { tenantId: invoice.tenantId, invoiceId: invoice.id, number: invoice.number, stripeInvoiceId: sent.id },
      'Invoice sent to the customer by Stripe',
    );

    return { result: 'done', status: invoice.status, stripeInvoiceId: sent.id };
  }
}
