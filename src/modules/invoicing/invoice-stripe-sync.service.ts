import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { Clock } from '@app/common/time/clock';
import { InvoicePaidEvent, InvoiceVoidedEvent } from '@app/contracts/invoicing.contracts';
import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { EntityManager } from 'typeorm';
import { isStripeInvoiceStatus, nextStatus } from './invoice-status';
import { InvoiceEntity, InvoiceStatus } from './invoice.entity';
import { InvoiceChanges, InvoicesRepository } from './invoices.repository';

/** Outcome of applying a Stripe invoice to a local one. */
export interface InvoiceSyncOutcome {
  /** False when the Stripe invoice is not the one stored for this invoice, which is then left alone. */
  matched: boolean;
  changed: boolean;
  from: InvoiceStatus;
  to: InvoiceStatus;
}

/** Origin of an observation of a Stripe invoice, for the logs. */
export type SyncSource = 'issue job' | 'send job' | 'void job' | 'reconciliation' | `webhook ${string}`;

/**
 * Applies what Stripe reports about an invoice (API responses, webhook events, the
 * reconciliation's reads) to the local invoice: its Stripe id, its status (only ever forward,
 * see `nextStatus`), the amount paid and the hosted page and PDF links. A status change and its
 * domain event commit together.
 */
@Injectable()
export class InvoiceStripeSyncService {
  private readonly logger = new Logger(InvoiceStripeSyncService.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly outbox: OutboxWriter,
    private readonly clock: Clock,
  ) {}

  /** Applies the Stripe invoice in a transaction of its own, under the invoice's row lock. */
  async apply(tenantId: string, invoiceId: string, stripeInvoice: Stripe.Invoice, source: SyncSource): Promise<InvoiceSyncOutcome | null> {
    return this.invoices.transaction(async (manager) => {
      const invoice = await this.invoices.lockById(manager, tenantId, invoiceId);

      return invoice ? this.applyLocked(manager, invoice, stripeInvoice, source) : null;
    });
  }

  /**
   * Applies the Stripe invoice as `apply` does, but from `seen`, a read of the invoice made
   * without its lock, and without a transaction where that is safe. Nothing is written when
   * `seen` would not change, because a newer row would not change either. Statuses only move
   * forward, the Stripe id, the amount paid and the void confirmation are only ever set or
   * raised, and the links are Stripe's own for this invoice. Other changes are written by one
   * UPDATE that matches only while the columns they depend on still hold what `seen` read.
   * A change that announces an event, or a row that changed meanwhile, takes the locked path.
   */
  async applyOptimistically(seen: InvoiceEntity, stripeInvoice: Stripe.Invoice, source: SyncSource): Promise<InvoiceSyncOutcome | null> {
    const matches = seen.stripeInvoiceId === stripeInvoice.id && (stripeInvoice.number === null || stripeInvoice.number === seen.number);
    if (!matches) {
      return this.apply(seen.tenantId, seen.id, stripeInvoice, source);
    }

    const changes = this.changesFor(seen, stripeInvoice);
    if (Object.keys(changes).length === 0) {
      return { matched: true, changed: false, from: seen.status, to: seen.status };
    }

    const announces = changes.status === 'paid' || changes.status === 'void';
    if (announces || !(await this.invoices.updateIfUnchanged(seen, changes))) {
      return this.apply(seen.tenantId, seen.id, stripeInvoice, source);
    }

    const to = changes.status ?? seen.status;
    if (to !== seen.status) {
      this.logger.log(
        { tenantId: seen.tenantId, invoiceId: seen.id, number: seen.number, stripeInvoiceId: stripeInvoice.id, source, from: seen.status, to },
        `Invoice ${seen.status} → ${to} as Stripe reports`,
      );
    }

    return { matched: true, changed: true, from: seen.status, to };
  }

  /** Applies the Stripe invoice to an invoice the caller has locked, inside the caller's transaction. */
  async applyLocked(
    manager: EntityManager,
    invoice: InvoiceEntity,
    stripeInvoice: Stripe.Invoice,
    source: SyncSource,
  ): Promise<InvoiceSyncOutcome> {
    const log = {
      tenantId: invoice.tenantId,
      invoiceId: invoice.id,
      number: invoice.number,
      stripeInvoiceId: stripeInvoice.id,
      source,
    };
    if (invoice.stripeInvoiceId !== null && invoice.stripeInvoiceId !== stripeInvoice.id) {
      this.logger.warn({ ...log, storedStripeInvoiceId: invoice.stripeInvoiceId }, 'Stripe invoice is not the one stored for this invoice; ignored');

      return { matched: false, changed: false, from: invoice.status, to: invoice.status };
    }
    if (stripeInvoice.number !== null && stripeInvoice.number !== invoice.number) {
      this.logger.warn({ ...log, stripeNumber: stripeInvoice.number }, 'Stripe shows another number than the invoice has; the invoice keeps its own');
    }

    const changes = this.changesFor(invoice, stripeInvoice);
    const from = invoice.status;
    if (Object.keys(changes).length === 0) {
      return { matched: true, changed: false, from, to: from };
    }

    await this.invoices.update(manager, invoice.tenantId, invoice.id, changes);
    Object.assign(invoice, changes);
    await this.announce(manager, invoice, from);
    if (invoice.status !== from) {
      const message = `Invoice ${from} → ${invoice.status} as Stripe reports`;
      if (source === 'reconciliation') {
        this.logger.warn({ ...log, from, to: invoice.status }, `Reconciliation corrected drift: ${message}`);
      } else {
        this.logger.log({ ...log, from, to: invoice.status }, message);
      }
    }

    return { matched: true, changed: true, from, to: invoice.status };
  }

  /**
   * Undoes a local void that never reached Stripe because the customer paid first: the money
   * was collected, so the invoice is paid. Only the void job calls this, when it finds the
   * Stripe invoice paid.
   */
  async correctVoidToPaid(tenantId: string, invoiceId: string, stripeInvoice: Stripe.Invoice): Promise<boolean> {
    return this.invoices.transaction(async (manager) => {
      const invoice = await this.invoices.lockById(manager, tenantId, invoiceId);
      if (!invoice || invoice.status !== 'void' || stripeInvoice.status !== 'paid') {
        return false;
      }

      const now = this.clock.now();
      const changes: InvoiceChanges = {
        status: 'paid',
        voidedAt: null,
        paidAt: timestamp(stripeInvoice.status_transitions?.paid_at) ?? now,
        amountPaid: Math.max(invoice.amountPaid, stripeInvoice.amount_paid),
        stripeInvoiceId: invoice.stripeInvoiceId ?? stripeInvoice.id,
        stripeVoidConfirmedAt: now,
      };
      await this.invoices.update(manager, tenantId, invoiceId, changes);
      Object.assign(invoice, changes);
      await this.announce(manager, invoice, 'void');
      this.logger.warn(
        { tenantId, invoiceId, number: invoice.number, stripeInvoiceId: stripeInvoice.id },
        'Invoice was paid in Stripe before its void reached Stripe; it is paid, not void',
      );

      return true;
    });
  }

  private changesFor(invoice: InvoiceEntity, stripeInvoice: Stripe.Invoice): InvoiceChanges {
    const now = this.clock.now();
    const changes: InvoiceChanges = {};
    if (invoice.stripeInvoiceId === null) {
      changes.stripeInvoiceId = stripeInvoice.id;
    }

    const observed = isStripeInvoiceStatus(stripeInvoice.status) ? stripeInvoice.status : null;
    const next = observed === null ? null : nextStatus(invoice.status, observed);
    if (next !== null) {
      changes.status = next;
      if (next !== 'open') {
        changes.overdue = false;
      }
      if (next === 'paid') {
        changes.paidAt = timestamp(stripeInvoice.status_transitions?.paid_at) ?? now;
      }
      if (next === 'void') {
        changes.voidedAt = timestamp(stripeInvoice.status_transitions?.voided_at) ?? now;
      }
    }
    if (observed === 'void' && (invoice.status === 'void' || next === 'void') && invoice.stripeVoidConfirmedAt === null) {
      changes.stripeVoidConfirmedAt = now;
    }

    const finalStatus = next ?? invoice.status;
    if (finalStatus !== 'void' && stripeInvoice.amount_paid > invoice.amountPaid) {
      changes.amountPaid = stripeInvoice.amount_paid;
    }
    if (stripeInvoice.hosted_invoice_url && invoice.hostedInvoiceUrl !== stripeInvoice.hosted_invoice_url) {
      changes.hostedInvoiceUrl = stripeInvoice.hosted_invoice_url;
    }
    if (stripeInvoice.invoice_pdf && invoice.pdfUrl !== stripeInvoice.invoice_pdf) {
      changes.pdfUrl = stripeInvoice.invoice_pdf;
    }

    return changes;
  }

  /** Writes InvoicePaid or InvoiceVoided when the status just became paid or void. */
  private async announce(manager: EntityManager, invoice: InvoiceEntity, from: InvoiceStatus): Promise<void> {
    if (invoice.status === from || invoice.number === null) {
      return;
    }

    if (invoice.status === 'paid') {
      await this.outbox.append(
        manager,
        new InvoicePaidEvent(invoice.tenantId, invoice.id, { invoiceId: invoice.id, number: invoice.number, paymentId: invoice.paymentId }),
      );
    } else if (invoice.status === 'void') {
      await this.outbox.append(manager, new InvoiceVoidedEvent(invoice.tenantId, invoice.id, { invoiceId: invoice.id, number: invoice.number }));
    }
  }
}

function timestamp(seconds: number | null | undefined): Date | null {
  return seconds === null || seconds === undefined ? null : new Date(seconds * 1000);
}
