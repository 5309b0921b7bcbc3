import { queryPrepared, queryThrough } from '@app/common/database/prepared-query';
import { SqlParameters } from '@app/common/database/sql-parameters';
import { claimMessageExpression } from '@app/common/outbox/processed-message.entity';
import { callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import { KeysetPosition, cursorTimestampSql, encodeCursor } from '@app/common/pagination/keyset-cursor';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In, IsNull, Not } from 'typeorm';
import { CustomerEntity } from './customer.entity';
import { InvoiceLineEntity } from './invoice-line.entity';
import { InvoiceEntity, InvoiceStatus } from './invoice.entity';
import { isUuid } from './uuid';

export interface InvoiceWithLines {
  invoice: InvoiceEntity;
  lines: InvoiceLineEntity[];
}

/** An invoice with its customer (null when none is stored) and its lines in position order. */
export interface InvoiceWithCustomer extends InvoiceWithLines {
  customer: CustomerEntity | null;
}

/** A draft as a finalize reads it before writing, with what the write needs and the row version it checks. */
export interface InvoiceToFinalize extends InvoiceWithCustomer {
  /** The tenant's time zone as stored, which may be null or unknown to this runtime. */
  storedTimeZone: string | null;
  /** The invoice row's xmin: it changes with every update of the row. */
  rowVersion: string;
  /** The tenant's Stripe connection as the `connectionSql` given to findToFinalize reads it. */
  connection: unknown;
}

interface InvoiceWithCustomerRow extends Record<string, unknown> {
  customer_json: Record<string, unknown> | null;
  lines_json: Record<string, unknown>[];
  tenant_time_zone?: string | null;
  row_version?: string;
  connection_json?: unknown;
}

/** The name of the expression that returns the id and number of the invoice claimAndIssuePaidInvoice issued. */
export const ISSUED_PAID_INVOICE = 'issued_paid_invoice';

/** A paid invoice for a succeeded card payment, issued with the claim of the message that announced it. */
export interface PaidInvoiceRequest {
  claim: { consumer: string; messageId: string };
  invoice: {
    id: string;
    tenantId: string;
    paymentId: string;
    customerId: string | null;
    currency: string;
    total: number;
    livemode: boolean;
    issuedAt: Date;
    paidAt: Date;
  };
  line: { description: string };
  /** Writes the expressions `next` and `numbered` (nextNumberExpressions) for the tenant `tenantIdSql`, taken only when `onlyIfRowsIn` returns a row. */
  numberExpressions: (parameters: SqlParameters, tenantIdSql: string, onlyIfRowsIn: string) => string[];
  writeWith: (parameters: SqlParameters) => string[];
}

/** The outcome of claimAndIssuePaidInvoice: whether it claimed the message, the invoice the payment had before, and the new number. */
export interface PaidInvoiceOutcome {
  claimed: boolean;
  existingInvoiceId: string | null;
  number: string | null;
}

/** A new invoice has no Stripe error yet; only the invoice jobs set one (recordStripeError). */
export type NewInvoice = Omit<InvoiceEntity, 'id' | 'createdAt' | 'updatedAt' | 'stripeErrorJob' | 'stripeErrorCode' | 'stripeErrorMessage' | 'stripeErrorAt'>;
export type NewInvoiceLine = Pick<InvoiceLineEntity, 'description' | 'quantity' | 'unitAmount' | 'amount'>;
export type InvoiceChanges = Partial<Omit<InvoiceEntity, 'id' | 'tenantId' | 'createdAt' | 'updatedAt'>>;

export interface InvoiceListFilter {
  status?: InvoiceStatus;
  /** true: only overdue invoices; false: only those that are not; undefined: both. */
  overdue?: boolean;
  limit: number;
  after?: KeysetPosition;
}

export interface InvoicePage {
  data: InvoiceWithLines[];
  nextCursor: string | null;
}

/** Which job brings an invoice's Stripe side up to date. */
export type StripeWork = 'issue' | 'send' | 'void';

export interface UnfinishedStripeWork {
  tenantId: string;
  invoiceId: string;
  work: StripeWork;
}

/**
 * Invoices of one tenant. Every method takes the tenant id, so another tenant's id finds
 * nothing; the few methods that look across tenants end in `AcrossTenants`.
 */
@Injectable()
export class InvoicesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The manager for statements that commit on their own, outside any transaction. */
  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /**
   * Claims a PaymentSucceeded message for `claim.consumer` and, unless the payment already has
   * an invoice, issues its paid invoice with one line and the number `numberExpressions` takes,
   * in one statement that commits on its own. `writeWith` adds the statement's other
   * expressions (the InvoiceIssued event), each only when ISSUED_PAID_INVOICE returns its row.
   * Nothing is written when the message was claimed before, and only the claim when the payment
   * has an invoice already.
   */
  async claimAndIssuePaidInvoice(request: PaidInvoiceRequest): Promise<PaidInvoiceOutcome> {
    const { invoice, line } = request;
    const parameters = new SqlParameters();
    const claimExpression = claimMessageExpression(parameters, request.claim.consumer, request.claim.messageId, invoice.tenantId);
    const tenantId = parameters.add(invoice.tenantId, 'uuid');
    const paymentId = parameters.add(invoice.paymentId, 'uuid');
    const amount = parameters.add(invoice.total, 'bigint');
    const expressions = [
      claimExpression,
      `unbilled_payment AS (
         SELECT 1 FROM message_claim
          WHERE NOT EXISTS (SELECT 1 FROM invoices WHERE tenant_id = ${tenantId} AND payment_id = ${paymentId})
       )`,
      ...request.numberExpressions(parameters, tenantId, 'unbilled_payment'),
      `${ISSUED_PAID_INVOICE} AS (
         INSERT INTO invoices (id, tenant_id, number, status, customer_id, payment_id, currency, total, amount_paid, amount_refunded, livemode, issued_at, paid_at, overdue)
         SELECT ${parameters.add(invoice.id, 'uuid')}, ${tenantId}, numbered.number, 'paid', ${parameters.add(invoice.customerId, 'uuid')}, ${paymentId},
                ${parameters.add(invoice.currency, 'text')}, ${amount}, ${amount}, 0, ${parameters.add(invoice.livemode, 'boolean')},
                ${parameters.add(invoice.issuedAt, 'timestamptz')}, ${parameters.add(invoice.paidAt, 'timestamptz')}, false
           FROM numbered
         RETURNING id, number
       )`,
      `issued_line AS (
         INSERT INTO invoice_lines (invoice_id, position, tenant_id, description, quantity, unit_amount, amount)
         SELECT ${ISSUED_PAID_INVOICE}.id, 1, ${tenantId}, ${parameters.add(line.description, 'text')}, 1, ${amount}, ${amount}
           FROM ${ISSUED_PAID_INVOICE}
         RETURNING invoice_id
       )`,
      ...request.writeWith(parameters),
    ];
    // The final SELECT reads the snapshot from before the statement, so it finds an invoice issued earlier, never this one.
    const rows = await queryPrepared<{ claimed: number; existing_invoice_id: string | null; number: string | null }>(
      this.dataSource,
      `WITH ${expressions.join(',\n')}
       SELECT (SELECT count(*) FROM message_claim)::int AS claimed,
              (SELECT id FROM invoices WHERE tenant_id = ${tenantId} AND payment_id = ${paymentId} LIMIT 1) AS existing_invoice_id,
              (SELECT number FROM ${ISSUED_PAID_INVOICE}) AS number`,
      parameters.values,
    );
    const [row] = rows;

    return { claimed: row.claimed === 1, existingInvoiceId: row.existing_invoice_id, number: row.number };
  }

  /** Locks the invoice of a payment (SELECT … FOR UPDATE) until the caller's transaction ends. */
  async lockByPaymentId(manager: EntityManager, tenantId: string, paymentId: string): Promise<InvoiceEntity | null> {
    return manager.getRepository(InvoiceEntity).findOne({ where: { tenantId, paymentId }, lock: { mode: 'pessimistic_write' } });
  }

  /** Inserts an invoice with its lines, numbered from 1 in the given order. */
  async insertWithLines(manager: EntityManager, invoice: NewInvoice, lines: NewInvoiceLine[]): Promise<InvoiceEntity> {
    const repository = manager.getRepository(InvoiceEntity);
    const saved = await repository.save(repository.create(invoice));
    await manager.getRepository(InvoiceLineEntity).insert(
      lines.map((line, index) => ({ ...line, invoiceId: saved.id, tenantId: invoice.tenantId, position: index + 1 })),
    );

    return saved;
  }

  /** Null for another tenant's id, a missing one and a malformed one alike. */
  async findById(tenantId: string, id: string, manager: EntityManager = this.dataSource.manager): Promise<InvoiceWithLines | null> {
    const invoice = await this.findEntity(tenantId, id, manager);
    if (!invoice) {
      return null;
    }

    const [withLines] = await this.attachLines(tenantId, [invoice], manager);

    return withLines;
  }

  /**
   * Reads one invoice. Outside a transaction the read is a prepared statement, because the
   * issue job reads the invoice again between its Stripe calls and TypeORM's query building
   * cost more CPU than the read.
   */
  async findEntity(tenantId: string, id: string, manager: EntityManager = this.dataSource.manager): Promise<InvoiceEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    const [row] = await queryThrough<Record<string, unknown>>(manager, 'SELECT * FROM invoices WHERE tenant_id = $1 AND id = $2', [tenantId, id]);

    return row ? hydrate(manager, InvoiceEntity, row) : null;
  }

  async findLines(tenantId: string, invoiceId: string, manager: EntityManager = this.dataSource.manager): Promise<InvoiceLineEntity[]> {
    return manager.getRepository(InvoiceLineEntity).find({ where: { tenantId, invoiceId }, order: { position: 'ASC' } });
  }

  /** Locks the invoice row (SELECT … FOR UPDATE) until the caller's transaction ends. */
  async lockById(manager: EntityManager, tenantId: string, id: string): Promise<InvoiceEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return manager.getRepository(InvoiceEntity).findOne({ where: { tenantId, id }, lock: { mode: 'pessimistic_write' } });
  }

  /**
   * Locks the invoice row (SELECT … FOR UPDATE) and reads its customer and lines in the same
   * round trip. The customer and the lines come from the statement's snapshot even when the
   * lock waited for another transaction, which is safe because neither is ever updated.
   */
  async lockWithCustomerAndLines(manager: EntityManager, tenantId: string, id: string): Promise<InvoiceWithCustomer | null> {
    return this.selectWithCustomerAndLines(manager, tenantId, id, 'FOR UPDATE OF invoice');
  }

  /** Reads the invoice with its customer and lines in one round trip, without a lock. */
  async findWithCustomerAndLines(tenantId: string, id: string): Promise<InvoiceWithCustomer | null> {
    return this.selectWithCustomerAndLines(this.dataSource.manager, tenantId, id, '');
  }

  /**
   * Reads the invoice with its customer, its lines, the tenant's time zone, the row's version
   * and the tenant's Stripe connection (`connectionSql`, the connection module's subquery) in
   * one round trip, without a lock. A finalize reads it so, then writes in one statement
   * (InvoiceNumberingService.finalizeUnchangedDraft).
   */
  async findToFinalize(tenantId: string, id: string, connectionSql: (tenantIdSql: string) => string): Promise<InvoiceToFinalize | null> {
    const { manager } = this;
    const row = await this.selectRowWithCustomerAndLines(manager, tenantId, id, '', [
      'xmin::text AS row_version',
      '(SELECT tenant.time_zone FROM tenants tenant WHERE tenant.id = invoice.tenant_id) AS tenant_time_zone',
      `${connectionSql('invoice.tenant_id')} AS connection_json`,
    ]);
    if (!row) {
      return null;
    }

    return {
      ...fromRowWithCustomerAndLines(manager, row),
      storedTimeZone: row.tenant_time_zone ?? null,
      rowVersion: row.row_version as string,
      connection: row.connection_json ?? null,
    };
  }

  private async selectWithCustomerAndLines(
    manager: EntityManager,
    tenantId: string,
    id: string,
    lock: 'FOR UPDATE OF invoice' | '',
  ): Promise<InvoiceWithCustomer | null> {
    const row = await this.selectRowWithCustomerAndLines(manager, tenantId, id, lock, []);

    return row ? fromRowWithCustomerAndLines(manager, row) : null;
  }

  private async selectRowWithCustomerAndLines(
    manager: EntityManager,
    tenantId: string,
    id: string,
    lock: 'FOR UPDATE OF invoice' | '',
    extraColumns: string[],
  ): Promise<InvoiceWithCustomerRow | null> {
    if (!isUuid(id)) {
      return null;
    }

    const rows = await queryThrough<InvoiceWithCustomerRow>(
      manager,
      `SELECT invoice.*,${extraColumns.map((column) => ` ${column},`).join('')}
              (SELECT row_to_json(customer) FROM customers customer
                WHERE customer.tenant_id = invoice.tenant_id AND customer.id = invoice.customer_id) AS customer_json,
              (SELECT coalesce(json_agg(line ORDER BY line.position), '[]'::json) FROM invoice_lines line
                WHERE line.tenant_id = invoice.tenant_id AND line.invoice_id = invoice.id) AS lines_json
         FROM invoices invoice
        WHERE invoice.tenant_id = $1 AND invoice.id = $2
        ${lock}`,
      [tenantId, id],
    );

    return rows[0] ?? null;
  }

  async lockByStripeInvoiceId(manager: EntityManager, tenantId: string, stripeInvoiceId: string): Promise<InvoiceEntity | null> {
    return manager
      .getRepository(InvoiceEntity)
      .findOne({ where: { tenantId, stripeInvoiceId }, lock: { mode: 'pessimistic_write' } });
  }

  /** Writes the given columns of one invoice; updated_at is set by TypeORM. */
  async update(manager: EntityManager, tenantId: string, id: string, changes: InvoiceChanges): Promise<void> {
    await manager.getRepository(InvoiceEntity).update({ tenantId, id }, changes as never);
  }

  /**
   * Writes the changes unless a column that decides which changes Stripe's invoice makes
   * (status, Stripe id, amount paid, links, void confirmation) differs from what `seen` read.
   * Returns whether it wrote. updated_at is set by TypeORM.
   */
  async updateIfUnchanged(seen: InvoiceEntity, changes: InvoiceChanges): Promise<boolean> {
    const result = await this.dataSource.getRepository(InvoiceEntity).update(
      {
        tenantId: seen.tenantId,
        id: seen.id,
        status: seen.status,
        stripeInvoiceId: seen.stripeInvoiceId ?? IsNull(),
        amountPaid: seen.amountPaid,
        hostedInvoiceUrl: seen.hostedInvoiceUrl ?? IsNull(),
        pdfUrl: seen.pdfUrl ?? IsNull(),
        stripeVoidConfirmedAt: seen.stripeVoidConfirmedAt === null ? IsNull() : Not(IsNull()),
      },
      changes as never,
    );

    return result.affected === 1;
  }

  /** Deletes a draft with its lines; returns false when the invoice is no longer a draft. */
  async deleteDraft(tenantId: string, id: string): Promise<boolean> {
    // TypeORM returns [rows, affected row count] for DELETE and UPDATE.
    const [, deleted]: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM invoices WHERE tenant_id = $1 AND id = $2 AND status = 'draft'`,
      [tenantId, id],
    );

    return deleted === 1;
  }

  /**
   * Records that the issuing job is about to ask Stripe to create the invoice. Returns false,
   * and records nothing, once the invoice is no longer issuing or already has its Stripe id.
   */
  async markCreateAttempt(tenantId: string, id: string, at: Date): Promise<boolean> {
    const [, updated]: [unknown[], number] = await this.dataSource.query(
      `UPDATE invoices SET stripe_create_attempted_at = $3, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND status = 'issuing' AND stripe_invoice_id IS NULL`,
      [tenantId, id, at],
    );

    return updated === 1;
  }

  /**
   * Forgets the create attempt marked at `at`, after Stripe rejected it with an error that
   * means it created nothing, so the next attempt creates at once instead of waiting for
   * Stripe's search index. A newer attempt's mark stays.
   */
  async clearCreateAttempt(tenantId: string, id: string, at: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE invoices SET stripe_create_attempted_at = NULL
        WHERE tenant_id = $1 AND id = $2 AND stripe_create_attempted_at = $3 AND stripe_invoice_id IS NULL`,
      [tenantId, id, at],
    );
  }

  /**
   * Finds the tenant's invoices whose Stripe side is unfinished (issuing, open but not sent,
   * void but not voided in Stripe), by id after `afterId`.
   */
  async findUnfinishedStripeWork(tenantId: string, limit: number, afterId: string | null): Promise<UnfinishedStripeWork[]> {
    const rows: { id: string; status: InvoiceStatus }[] = await this.dataSource.query(
      `SELECT id, status FROM invoices
        WHERE tenant_id = $1
          AND (status = 'issuing'
               OR (status = 'open' AND sent_at IS NULL)
               OR (status = 'void' AND payment_id IS NULL AND stripe_void_confirmed_at IS NULL))
          AND ($3::uuid IS NULL OR id > $3::uuid)
        ORDER BY id
        LIMIT $2`,
      [tenantId, limit, afterId],
    );

    return rows.map((row) => ({ tenantId, invoiceId: row.id, work: workFor(row.status) }));
  }

  /**
   * Stores the Stripe invoice id unless the invoice already has one, and returns the id stored
   * afterwards: the given one, or the one stored before.
   */
  async storeStripeInvoiceId(tenantId: string, id: string, stripeInvoiceId: string): Promise<string | null> {
    const [rows]: [{ stripe_invoice_id: string | null }[], number] = await this.dataSource.query(
      `UPDATE invoices SET stripe_invoice_id = COALESCE(stripe_invoice_id, $3), updated_at = now()
        WHERE tenant_id = $1 AND id = $2
        RETURNING stripe_invoice_id`,
      [tenantId, id, stripeInvoiceId],
    );

    return rows[0]?.stripe_invoice_id ?? null;
  }

  /**
   * Stores the error an attempt of a Stripe job of the invoice failed with,
   * replacing an earlier one. It leaves `updated_at` alone, since the invoice
   * itself did not change.
   */
  async recordStripeError(tenantId: string, id: string, error: { job: StripeWork; code: string; message: string; at: Date }): Promise<void> {
    await this.dataSource.query(
      `UPDATE invoices SET stripe_error_job = $3, stripe_error_code = $4, stripe_error_message = $5, stripe_error_at = $6
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id, error.job, error.code, error.message, error.at],
    );
  }

  /**
   * Clears the stored Stripe error of `job` once that job of the invoice succeeds. An error of
   * another job stays, and without one the statement changes nothing.
   */
  async clearStripeError(tenantId: string, id: string, job: StripeWork): Promise<void> {
    await this.dataSource.query(
      `UPDATE invoices SET stripe_error_job = NULL, stripe_error_code = NULL, stripe_error_message = NULL, stripe_error_at = NULL
        WHERE tenant_id = $1 AND id = $2 AND stripe_error_job = $3`,
      [tenantId, id, job],
    );
  }

  async markSent(tenantId: string, id: string, at: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE invoices SET sent_at = COALESCE(sent_at, $3), updated_at = now() WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id, at],
    );
  }

  async confirmVoid(tenantId: string, id: string, at: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE invoices SET stripe_void_confirmed_at = COALESCE(stripe_void_confirmed_at, $3), updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND status = 'void'`,
      [tenantId, id, at],
    );
  }

  /** Marks the tenant's open invoices due before `today` (`YYYY-MM-DD`) overdue and returns them. */
  async markOverdue(tenantId: string, today: string): Promise<{ id: string; number: string }[]> {
    const [rows]: [{ id: string; number: string }[], number] = await this.dataSource.query(
      `UPDATE invoices SET overdue = true, updated_at = now()
        WHERE tenant_id = $1 AND status = 'open' AND NOT overdue AND due_date < CAST($2 AS date)
        RETURNING id, number`,
      [tenantId, today],
    );

    return rows;
  }

  /**
   * Across tenants: the tenants with open invoices that are not overdue yet and were due on or
   * before `latestDueDate`, through a SECURITY DEFINER function. The overdue check then works
   * in each tenant.
   */
  async findTenantsWithOverdueCandidatesAcrossTenants(latestDueDate: string): Promise<string[]> {
    const rows = await callCrossTenantFunction<{ result: string }>(this.dataSource, 'app_find_tenants_with_overdue_candidates', [latestDueDate]);

    return rows.map((row) => row.result);
  }

  /**
   * Across tenants: invoices whose Stripe side is unfinished (issuing, open but not sent, void
   * but not voided in Stripe) and unchanged for `graceSeconds`, oldest first, through a
   * SECURITY DEFINER function. The index `invoices_stripe_unfinished_idx` covers its condition.
   */
  async findUnfinishedStripeWorkAcrossTenants(graceSeconds: number, limit: number): Promise<UnfinishedStripeWork[]> {
    const rows = await callCrossTenantFunction<{ tenant_id: string; id: string; status: InvoiceStatus }>(
      this.dataSource,
      'app_find_unfinished_invoice_stripe_work',
      [graceSeconds, limit],
    );

    return rows.map((row) => ({ tenantId: row.tenant_id, invoiceId: row.id, work: workFor(row.status) }));
  }

  /**
   * Across tenants: the tenants with B2B invoices that Stripe still decides about (issuing,
   * open, uncollectible) or whose Stripe side is unfinished, through a SECURITY DEFINER
   * function. The reconciliation then works in each tenant.
   */
  async findTenantsToReconcileAcrossTenants(): Promise<string[]> {
    const rows = await callCrossTenantFunction<{ result: string }>(this.dataSource, 'app_find_tenants_to_reconcile');

    return rows.map((row) => row.result);
  }

  /** The tenant's B2B invoices the reconciliation compares with Stripe, by id after `afterId`. */
  async findToReconcile(tenantId: string, limit: number, afterId: string | null): Promise<InvoiceEntity[]> {
    const query = this.dataSource
      .getRepository(InvoiceEntity)
      .createQueryBuilder('invoice')
      .where('invoice.tenant_id = :tenantId', { tenantId })
      .andWhere('invoice.payment_id IS NULL')
      .andWhere(
        `(invoice.status IN ('issuing', 'open', 'uncollectible')
          OR (invoice.status = 'void' AND invoice.stripe_void_confirmed_at IS NULL))`,
      )
      .orderBy('invoice.id', 'ASC')
      .limit(limit);
    if (afterId !== null) {
      query.andWhere('invoice.id > :afterId', { afterId });
    }

    return query.getMany();
  }

  /** Reads a page of invoices, newest first, by the keyset (created_at, id). */
  async list(tenantId: string, filter: InvoiceListFilter): Promise<InvoicePage> {
    const query = this.dataSource
      .getRepository(InvoiceEntity)
      .createQueryBuilder('invoice')
      .addSelect(cursorTimestampSql('invoice.created_at'), 'cursor_created_at')
      .where('invoice.tenant_id = :tenantId', { tenantId })
      .orderBy('invoice.created_at', 'DESC')
      .addOrderBy('invoice.id', 'DESC')
      .limit(filter.limit + 1);
    if (filter.status) {
      query.andWhere('invoice.status = :status', { status: filter.status });
    }
    if (filter.overdue !== undefined) {
      query.andWhere('invoice.overdue = :overdue', { overdue: filter.overdue });
    }
    if (filter.after) {
      query.andWhere('(invoice.created_at, invoice.id) < (CAST(:afterCreatedAt AS timestamptz), CAST(:afterId AS uuid))', {
        afterCreatedAt: filter.after.createdAt,
        afterId: filter.after.id,
      });
    }

    const { entities, raw } = await query.getRawAndEntities<{ invoice_id: string; cursor_created_at: string }>();
    const hasMore = entities.length > filter.limit;
    const invoices = entities.slice(0, filter.limit);
    const last = invoices.at(-1);
    const lastRaw = last ? raw.find((row) => row.invoice_id === last.id) : undefined;
    const nextCursor = hasMore && lastRaw ? encodeCursor({ createdAt: lastRaw.cursor_created_at, id: lastRaw.invoice_id }) : null;

    return { data: await this.attachLines(tenantId, invoices), nextCursor };
  }

  private async attachLines(
    tenantId: string,
    invoices: InvoiceEntity[],
    manager: EntityManager = this.dataSource.manager,
  ): Promise<InvoiceWithLines[]> {
    if (invoices.length === 0) {
      return [];
    }

    const lines = await manager.getRepository(InvoiceLineEntity).find({
      where: { tenantId, invoiceId: In(invoices.map((invoice) => invoice.id)) },
      order: { invoiceId: 'ASC', position: 'ASC' },
    });

    return invoices.map((invoice) => ({ invoice, lines: lines.filter((line) => line.invoiceId === invoice.id) }));
  }
}

/**
 * Builds an entity from a row selected by hand, keyed by column name, with the conversions
 * TypeORM applies to its own reads (bigint transformers, dates, jsonb). A row of `row_to_json`
 * works too, whose timestamps are ISO strings.
 */
function fromRowWithCustomerAndLines(manager: EntityManager, row: InvoiceWithCustomerRow): InvoiceWithCustomer {
  return {
    invoice: hydrate(manager, InvoiceEntity, row),
    customer: row.customer_json === null ? null : hydrate(manager, CustomerEntity, row.customer_json),
    lines: row.lines_json.map((line) => hydrate(manager, InvoiceLineEntity, line)),
  };
}

function hydrate<T extends object>(manager: EntityManager, target: new () => T, row: Record<string, unknown>): T {
  const metadata = manager.connection.getMetadata(target);
  const entity = metadata.create() as Record<string, unknown>;
  for (const column of metadata.columns) {
    entity[column.propertyName] = manager.connection.driver.prepareHydratedValue(row[column.databaseName], column);
  }

  return entity as T;
}

function workFor(status: InvoiceStatus): StripeWork {
  if (status === 'issuing') {
    return 'issue';
  }

  return status === 'void' ? 'void' : 'send';
}
