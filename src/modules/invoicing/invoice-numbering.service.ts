import { queryThrough } from '@app/common/database/prepared-query';
import { SqlParameters } from '@app/common/database/sql-parameters';
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { InvoiceNumberMode, calendarYearInZone, formatInvoiceNumber } from './invoice-number';

export interface NumberRequest {
  tenantId: string;
  mode: InvoiceNumberMode;
  /** The issue time, whose calendar year in `timeZone` picks the sequence. */
  issuedAt: Date;
  timeZone: string;
}

/** A draft that moves to `issuing` with the next number, and the columns that move sets. */
interface DraftFinalize extends NumberRequest {
  invoiceId: string;
  dueDate: string;
  finalizeIdempotencyKeyId: string | null;
}

/** A draft finalized in the caller's transaction, and the rows written earlier in it that name the number. */
export interface FinalizeRequest extends DraftFinalize {
  /** The event name of the outbox event, written earlier in the transaction with `number: null`. */
  issuedEventName: string;
  /** The action of the audit entry, written earlier in the transaction with `number: null`. */
  auditAction: string;
}

/** A draft that moves to `issuing` in one statement, while its row is still the version read. */
export interface UnchangedDraftFinalize extends DraftFinalize {
  rowVersion: string;
  /**
   * Writes the statement's other expressions (the outbox event, the audit entry), each only
   * when `FINALIZED_INVOICE` returns its one row, whose `number` column contains the number.
   */
  writeWith: (parameters: SqlParameters) => string[];
}

/** The name of the expression that returns the finalized invoice's id, number and updated_at. */
export const FINALIZED_INVOICE = 'finalized_invoice';

/**
 * Writes the expressions `next` and `numbered` of a caller's statement. `next` takes the next
 * value of the sequence of (tenant, mode, year), only when `onlyIfRowsIn`, an earlier
 * expression, returns a row if one is named. `numbered` returns that value with its formatted
 * `number` (INV-YYYY-NNNNN). The sequence row stays locked until the statement's transaction ends.
 */
export function nextNumberExpressions(
  parameters: SqlParameters,
  sequence: { tenantIdSql: string; mode: InvoiceNumberMode; yearSql: string; onlyIfRowsIn?: string },
): string[] {
  const source = sequence.onlyIfRowsIn === undefined ? '' : ` FROM ${sequence.onlyIfRowsIn}`;

  return [
    `next AS (
         INSERT INTO invoice_number_sequences (tenant_id, mode, year, last_value)
         SELECT ${sequence.tenantIdSql}, ${parameters.add(sequence.mode, 'text')}, ${sequence.yearSql}, 1${source}
         ON CONFLICT (tenant_id, mode, year)
         DO UPDATE SET last_value = invoice_number_sequences.last_value + 1
         RETURNING last_value
       )`,
    // The same format as formatInvoiceNumber: five digits at least, more past 99999.
    `numbered AS (
         SELECT last_value, 'INV-' || ${sequence.yearSql} || '-' || lpad(last_value::text, greatest(5, length(last_value::text)), '0') AS number
           FROM next
       )`,
  ];
}

/** Writes the SET list that moves a draft to `issuing` with the number of the expression `numbered`. */
function issuingColumnsSql(parameters: SqlParameters, request: DraftFinalize): string {
  return `status = 'issuing', number = numbered.number, issued_at = ${parameters.add(request.issuedAt, 'timestamptz')},
                due_date = ${parameters.add(request.dueDate, 'date')}, livemode = ${parameters.add(request.mode === 'live', 'boolean')},
                finalize_idempotency_key_id = ${parameters.add(request.finalizeIdempotencyKeyId, 'uuid')}, updated_at = now()`;
}

/** The number a finalized draft took and the invoice's new `updated_at`. */
export interface FinalizedDraft {
  number: string;
  updatedAt: Date;
}

interface FinalizedRow {
  number: string;
  last_value: number;
  updated_at: Date | null;
  invoices: number;
  events: number;
  audit_entries: number;
}

/**
 * Allocates invoice numbers from one sequence per (tenant, mode, year). Each
 * sequence starts at 1, never repeats and never skips.
 */
@Injectable()
export class InvoiceNumberingService {
  /**
   * Moves a draft to `issuing` with the next number, and writes what
   * `writeWith` adds, in one statement that commits on its own. It locks the
   * invoice row first and takes a number only while the row is still the
   * draft of version `rowVersion`, so the checks the caller made on what it
   * read hold, and a changed row takes no number. The sequence row is locked
   * from this statement's upsert to its commit.
   *
   * Returns null, having written nothing, when the row changed since it was
   * read; the caller then finalizes under the row lock (finalizeDraft).
   */
  async finalizeUnchangedDraft(manager: EntityManager, request: UnchangedDraftFinalize): Promise<FinalizedDraft | null> {
    const year = calendarYearInZone(request.issuedAt, request.timeZone);
    const parameters = new SqlParameters();
    const tenantId = parameters.add(request.tenantId, 'uuid');
    const invoiceId = parameters.add(request.invoiceId, 'uuid');
    const yearValue = parameters.add(year, 'int');
    // The row lock comes before the sequence's, in the order finalizeDraft's transaction takes them.
    const expressions = [
      `unchanged_draft AS (
         SELECT invoices.id FROM invoices
          WHERE invoices.tenant_id = ${tenantId} AND invoices.id = ${invoiceId} AND invoices.status = 'draft'
            AND invoices.xmin = ${parameters.add(request.rowVersion, 'xid')}
            FOR UPDATE
       )`,
      ...nextNumberExpressions(parameters, { tenantIdSql: tenantId, mode: request.mode, yearSql: yearValue, onlyIfRowsIn: 'unchanged_draft' }),
      `${FINALIZED_INVOICE} AS (
         UPDATE invoices
            SET ${issuingColumnsSql(parameters, request)}
           FROM numbered, unchanged_draft
          WHERE invoices.tenant_id = ${tenantId} AND invoices.id = unchanged_draft.id
         RETURNING invoices.id, invoices.number, invoices.updated_at
       )`,
      ...request.writeWith(parameters),
    ];
    // The statement has committed when it returns, so nothing here may reject what it wrote.
    const rows = await queryThrough<{ number: string; updated_at: Date }>(
      manager,
      `WITH ${expressions.join(',\n')}
       SELECT number, updated_at FROM ${FINALIZED_INVOICE}`,
      parameters.values,
    );
    const row = rows[0];

    return row ? { number: row.number, updatedAt: row.updated_at } : null;
  }

  /**
   * Moves a draft to `issuing` with the next number in one statement, which
   * must be the caller's last before COMMIT. The sequence row stays locked
   * from this statement to the end of the transaction, so the lock then lasts
   * one round trip plus the commit. The same statement writes the number into the
   * outbox event and the audit entry the caller wrote before with
   * `number: null`. Unless exactly one invoice, event and audit entry
   * changed, it throws, and the caller's rollback returns the number.
   */
  async finalizeDraft(manager: EntityManager, request: FinalizeRequest): Promise<FinalizedDraft> {
    const year = calendarYearInZone(request.issuedAt, request.timeZone);
    const parameters = new SqlParameters();
    const tenantId = parameters.add(request.tenantId, 'uuid');
    const invoiceId = parameters.add(request.invoiceId, 'uuid');
    const yearValue = parameters.add(year, 'int');
    // The outbox event and the audit entry were written in this transaction:
    // created_at = now() (the transaction's start) prunes the outbox to one
    // partition, and audit_log.at is clock_timestamp(), so at >= now() holds.
    const expressions = [
      ...nextNumberExpressions(parameters, { tenantIdSql: tenantId, mode: request.mode, yearSql: yearValue }),
      `invoice AS (
         UPDATE invoices
            SET ${issuingColumnsSql(parameters, request)}
           FROM numbered
          WHERE invoices.tenant_id = ${tenantId} AND invoices.id = ${invoiceId} AND invoices.status = 'draft'
         RETURNING invoices.id, invoices.updated_at
       )`,
      `event AS (
         UPDATE outbox_events
            SET payload = jsonb_set(payload, '{number}', to_jsonb(numbered.number))
           FROM numbered
          WHERE outbox_events.tenant_id = ${tenantId} AND outbox_events.aggregate_id = ${invoiceId}::text
            AND outbox_events.event_name = ${parameters.add(request.issuedEventName, 'text')}
            AND outbox_events.created_at = now() AND outbox_events.payload->'number' = 'null'::jsonb
         RETURNING outbox_events.id
       )`,
      `audit AS (
         UPDATE audit_log
            SET details = jsonb_set(details, '{number}', to_jsonb(numbered.number))
           FROM numbered
          WHERE audit_log.tenant_id = ${tenantId} AND audit_log.at >= now() AND audit_log.action = ${parameters.add(request.auditAction, 'text')}
            AND audit_log.details->>'invoiceId' = ${invoiceId}::text AND audit_log.details->'number' = 'null'::jsonb
         RETURNING audit_log.id
       )`,
    ];
    const rows = await queryThrough<FinalizedRow>(
      manager,
      `WITH ${expressions.join(',\n')}
       SELECT numbered.number, numbered.last_value,
              (SELECT updated_at FROM invoice) AS updated_at,
              (SELECT count(*) FROM invoice)::int AS invoices,
              (SELECT count(*) FROM event)::int AS events,
              (SELECT count(*) FROM audit)::int AS audit_entries
         FROM numbered`,
      parameters.values,
    );

    const row = rows[0];
    const expected = formatInvoiceNumber(year, Number(row.last_value));
    if (row.number !== expected || row.invoices !== 1 || row.events !== 1 || row.audit_entries !== 1 || row.updated_at === null) {
      throw new Error(
        `Finalizing invoice ${request.invoiceId} changed ${row.invoices} invoices, ${row.events} outbox events and ` +
          `${row.audit_entries} audit entries with number ${row.number} (expected 1, 1, 1 and ${expected})`,
      );
    }

    return { number: row.number, updatedAt: row.updated_at };
  }
}
