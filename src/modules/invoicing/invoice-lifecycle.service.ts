import { RequestContext } from '@app/common/context/request-context';
import { DomainError, notFound } from '@app/common/errors/domain-error';
import { IdempotencyService } from '@app/common/idempotency/idempotency.service';
import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { InvoiceIssuedEvent, InvoiceVoidedEvent } from '@app/contracts/invoicing.contracts';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { CustomerEntity } from './customer.entity';
import { InvoiceResponse } from './dto/invoice.response';
import { InvoiceCalendarService } from './invoice-calendar.service';
import { InvoiceJobQueue } from './invoice-job-queue';
import { resolveTimeZone } from './invoice-number';
import { FINALIZED_INVOICE, InvoiceNumberingService } from './invoice-numbering.service';
import { InvoiceEntity, InvoiceStatus } from './invoice.entity';
import { toInvoiceResponse } from './invoice.mapper';
import { invoiceStateConflict } from './invoicing.errors';
import { InvoiceWithCustomer, InvoiceWithLines, InvoicesRepository } from './invoices.repository';

const VOIDABLE: readonly InvoiceStatus[] = ['issuing', 'open', 'uncollectible'];
const FINALIZED_AUDIT_ACTION = 'invoice.finalized';

/**
 * Finalizes and voids B2B invoices. Both commit the local change first (finalize with the next
 * number), then leave the Stripe side to a job, so a Stripe failure never takes a number back.
 */
@Injectable()
export class InvoiceLifecycleService {
  private readonly logger = new Logger(InvoiceLifecycleService.name);

  constructor(
    private readonly context: RequestContext,
    private readonly invoices: InvoicesRepository,
    private readonly numbering: InvoiceNumberingService,
    private readonly calendar: InvoiceCalendarService,
    private readonly outbox: OutboxWriter,
    private readonly jobs: InvoiceJobQueue,
    private readonly idempotency: IdempotencyService,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
    @Inject(TENANCY_FACADE) private readonly tenancy: TenancyFacade,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /**
   * Assigns the next number as the draft moves to `issuing`, then enqueues the issuing job. The
   * finalize is rejected when the invoice is not found, is not a draft, has no Stripe
   * connection, or has a customer of another Stripe account or of the other mode. These are
   * checked in that order, before the number is taken, so a rejected finalize takes no number.
   *
   * The draft is read without a lock and written in one statement that takes the number only
   * while the row is still the version read. When anything wrote the row in between, the
   * finalize runs again under the row lock.
   */
  async finalize(id: string): Promise<InvoiceResponse> {
    const tenantId = this.context.requireTenantId();
    // The statements share one connection, whose tenant scope is set once for them all. Separate
    // pool checkouts would often find a connection last used by another tenant and set it anew.
    const outcome = await this.context.runOnOneConnection(this.dataSource, () => this.finalizeDraft(tenantId, id));
    if ('response' in outcome) {
      return outcome.response;
    }

    const { invoice } = outcome.finalized;
    this.logger.log({ tenantId, invoiceId: id, number: invoice.number }, 'Invoice finalized; issuing it in Stripe');
    await this.jobs.enqueueAfterCommit('issue', { tenantId, invoiceId: id });

    return toInvoiceResponse(outcome.finalized);
  }

  private async finalizeDraft(tenantId: string, id: string): Promise<FinalizeOutcome> {
    const idempotencyKeyId = this.idempotency.activeKey()?.id ?? null;
    const found = await this.invoices.findToFinalize(tenantId, id, (tenantIdSql) => this.stripeConnection.clientFieldsSql(tenantIdSql));
    if (!found) {
      throw notFound('invoice');
    }
    const connection = this.connectionFrom(tenantId, found.connection);
    const client = clientForDraft(found, connection);
    if (client === null) {
      return { response: await this.replayOrReject(tenantId, found.invoice) };
    }

    const draft = found.invoice;
    const timeZone = resolveTimeZone(found.storedTimeZone);
    const issuedAt = this.calendar.now();
    const dueDate = this.calendar.dueDate(issuedAt, timeZone, draft.daysUntilDue ?? 0);
    const issued = this.issuedEvent(tenantId, draft);
    const assigned = await this.numbering.finalizeUnchangedDraft(this.invoices.manager, {
      tenantId,
      invoiceId: id,
      rowVersion: found.rowVersion,
      mode: client.mode,
      issuedAt,
      timeZone,
      dueDate,
      finalizeIdempotencyKeyId: idempotencyKeyId,
      writeWith: (parameters) => {
        const patch = `jsonb_build_object('number', ${FINALIZED_INVOICE}.number)`;

        return [
          this.outbox.appendExpressions(parameters, [issued], { onlyIfRowsIn: FINALIZED_INVOICE, payloadPatch: patch }),
          this.tenancy.auditExpression(
            parameters,
            { tenantId, action: FINALIZED_AUDIT_ACTION, details: { invoiceId: id } },
            { onlyIfRowsIn: FINALIZED_INVOICE, detailsPatch: patch },
          ),
        ];
      },
    });
    if (assigned === null) {
      return this.finalizeLocked(tenantId, id, { connection, timeZone, idempotencyKeyId });
    }

    applyFinalized(draft, { ...assigned, issuedAt, dueDate, livemode: client.mode === 'live', finalizeIdempotencyKeyId: idempotencyKeyId });

    return { finalized: { invoice: draft, lines: found.lines } };
  }

  /**
   * Finalizes a draft whose row changed between its read and its write: the same checks and
   * writes, in one transaction under the invoice's row lock. The connection and time zone are
   * the ones the unlocked read found.
   */
  private async finalizeLocked(tenantId: string, id: string, read: LockedFinalizeInput): Promise<FinalizeOutcome> {
    const { connection, timeZone, idempotencyKeyId } = read;
    const outcome = await this.invoices.transaction(async (manager) => {
      const found = await this.invoices.lockWithCustomerAndLines(manager, tenantId, id);
      if (!found) {
        throw notFound('invoice');
      }
      const client = clientForDraft(found, connection);
      if (client === null) {
        return { finalized: null, invoice: found.invoice };
      }
      const locked = found.invoice;

      // Everything else is written first, with `number: null` where the number goes, so the
      // sequence row is locked only by the last statement before COMMIT.
      const issuedAt = this.calendar.now();
      const issued = this.issuedEvent(tenantId, locked);
      await this.outbox.append(manager, issued);
      await this.tenancy.recordAudit({ tenantId, action: FINALIZED_AUDIT_ACTION, details: { invoiceId: id, number: null } }, manager);

      const dueDate = this.calendar.dueDate(issuedAt, timeZone, locked.daysUntilDue ?? 0);
      const assigned = await this.numbering.finalizeDraft(manager, {
        tenantId,
        invoiceId: id,
        mode: client.mode,
        issuedAt,
        timeZone,
        dueDate,
        finalizeIdempotencyKeyId: idempotencyKeyId,
        issuedEventName: issued.name,
        auditAction: FINALIZED_AUDIT_ACTION,
      });

      applyFinalized(locked, { ...assigned, issuedAt, dueDate, livemode: client.mode === 'live', finalizeIdempotencyKeyId: idempotencyKeyId });

      return { finalized: { invoice: locked, lines: found.lines }, invoice: locked };
    });
    if (outcome.finalized === null) {
      return { response: await this.replayOrReject(tenantId, outcome.invoice) };
    }

    return { finalized: outcome.finalized };
  }

  private connectionFrom(tenantId: string, fields: unknown): ConnectionRead {
    try {
      return { client: this.stripeConnection.clientFromFields(tenantId, fields), error: null };
    } catch (error) {
      return { client: null, error };
    }
  }

  /** Builds the event of a finalized invoice with `number: null`, which the statement that takes the number fills in. */
  private issuedEvent(tenantId: string, invoice: InvoiceEntity): InvoiceIssuedEvent {
    return new InvoiceIssuedEvent(tenantId, invoice.id, {
      invoiceId: invoice.id,
      number: null as unknown as string,
      paymentId: null,
      total: invoice.total,
      currency: invoice.currency,
    });
  }

  /**
   * Voids an issuing, open or uncollectible invoice: it keeps its number, becomes `void` at
   * once, and a job voids it in Stripe.
   */
  async void(id: string): Promise<InvoiceResponse> {
    const tenantId = this.context.requireTenantId();
    const invoice = await this.requireInvoice(tenantId, id);
    if (!VOIDABLE.includes(invoice.status) || invoice.paymentId !== null) {
      throw invoiceStateConflict('voided', invoice.status, VOIDABLE);
    }

    await this.stripeConnection.getClient(tenantId);
    await this.invoices.transaction(async (manager) => {
      const locked = await this.invoices.lockById(manager, tenantId, id);
      if (!locked || !VOIDABLE.includes(locked.status)) {
        throw invoiceStateConflict('voided', locked?.status ?? invoice.status, VOIDABLE);
      }

      await this.invoices.update(manager, tenantId, id, { status: 'void', voidedAt: this.calendar.now(), overdue: false });
      await this.outbox.append(manager, new InvoiceVoidedEvent(tenantId, id, { invoiceId: id, number: locked.number }));
      await this.tenancy.recordAudit({ tenantId, action: 'invoice.voided', details: { invoiceId: id, number: locked.number, from: locked.status } }, manager);
    });
    this.logger.log({ tenantId, invoiceId: id, number: invoice.number, from: invoice.status }, 'Invoice voided; voiding it in Stripe');
    await this.jobs.enqueueAfterCommit('void', { tenantId, invoiceId: id });

    return this.read(tenantId, id);
  }

  private async requireInvoice(tenantId: string, id: string): Promise<InvoiceEntity> {
    const invoice = await this.invoices.findEntity(tenantId, id);
    if (!invoice) {
      throw notFound('invoice');
    }

    return invoice;
  }

  /**
   * Rejects the finalize of an invoice that is no longer a draft with 409. The exception is the
   * retry of a finalize that committed under the same Idempotency-Key but ended before storing
   * its response, which gets the finalized invoice as the first request would have.
   */
  private async replayOrReject(tenantId: string, invoice: InvoiceEntity): Promise<InvoiceResponse> {
    const activeKey = this.idempotency.activeKey();
    if (activeKey?.recovered && invoice.finalizeIdempotencyKeyId === activeKey.id) {
      return this.read(tenantId, invoice.id);
    }

    throw invoiceStateConflict('finalized', invoice.status, ['draft']);
  }

  private async read(tenantId: string, id: string): Promise<InvoiceResponse> {
    const found = await this.invoices.findById(tenantId, id);
    if (!found) {
      throw notFound('invoice');
    }

    return toInvoiceResponse(found);
  }
}

/** Applies the columns a finalize wrote to the row it read, which makes the stored row without reading it again. */
function applyFinalized(
  invoice: InvoiceEntity,
  written: Pick<InvoiceEntity, 'issuedAt' | 'dueDate' | 'livemode' | 'finalizeIdempotencyKeyId' | 'updatedAt'> & { number: string },
): void {
  Object.assign(invoice, { status: 'issuing', ...written } satisfies Partial<InvoiceEntity>);
}

/** A finalized draft, or the response of a finalize that found no draft to finalize (a replay). */
type FinalizeOutcome = { finalized: InvoiceWithLines } | { response: InvoiceResponse };

/** What the locked finalize takes over from the unlocked read. */
interface LockedFinalizeInput {
  connection: ConnectionRead;
  timeZone: string;
  idempotencyKeyId: string | null;
}

/**
 * Returns the client to finalize a draft with, or null when the invoice is no longer a draft.
 * The connection's error waits until the invoice is known to be a draft, so a missing or
 * finalized invoice still gets 404 or 409 first.
 */
function clientForDraft(found: InvoiceWithCustomer, connection: ConnectionRead): TenantStripeClient | null {
  if (found.invoice.status !== 'draft') {
    return null;
  }
  const client = requireConnected(connection);
  requireCustomerOfConnection(found.invoice, found.customer, client);

  return client;
}

/** The tenant's Stripe client as read before the finalize, or the error reading it gave. */
type ConnectionRead = { client: TenantStripeClient; error: null } | { client: null; error: unknown };

function requireConnected(connection: ConnectionRead): TenantStripeClient {
  if (connection.client === null) {
    throw connection.error;
  }

  return connection.client;
}

/**
 * Rejects the finalize of a draft whose customer the connected Stripe client cannot reach,
 * because the customer lives in another Stripe account or in the other mode.
 */
function requireCustomerOfConnection(invoice: InvoiceEntity, customer: CustomerEntity | null, client: TenantStripeClient): void {
  if (!customer) {
    throw new Error(`Draft invoice ${invoice.id} has no stored customer`);
  }

  // NOTE: A customer stored before its account was recorded has a null account id, so only its mode is checked.
  if (customer.stripeAccountId !== null && customer.stripeAccountId !== client.accountId) {
    throw new DomainError(
      'invalid_state',
      `The customer belongs to Stripe account ${customer.stripeAccountId}, which is no longer connected (Stripe is connected to ${client.accountId}). Create the customer again under the connected account, then a new invoice.`,
    );
  }
  if (customer.livemode !== (client.mode === 'live')) {
    throw new DomainError(
      'invalid_state',
      `The customer was created in ${customer.livemode ? 'live' : 'test'} mode, but Stripe is connected in ${client.mode} mode. Create the customer again, then a new invoice.`,
    );
  }
}
