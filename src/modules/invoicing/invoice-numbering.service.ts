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

/**
 * Allocates invoice numbers from one sequence per (tenant, mode, year). Each
 * sequence starts at 1, never repeats and never skips.
 */
@Injectable()
export class InvoiceNumberingService {
  /**
   * Takes the next number inside the caller's transaction, which must also
   * store the invoice. The upsert locks the sequence row until that
   * transaction ends, so concurrent issues wait in turn and get consecutive
   * numbers. A rollback returns the number, so none is skipped.
   */
  async allocate(manager: EntityManager, request: NumberRequest): Promise<string> {
    const year = calendarYearInZone(request.issuedAt, request.timeZone);
    const rows: { last_value: number }[] = await manager.query(
      `INSERT INTO invoice_number_sequences (tenant_id, mode, year, last_value)
       VALUES ($1, $2, $3, 1)
       ON CONFLICT (tenant_id, mode, year)
       DO UPDATE SET last_value = invoice_number_sequences.last_value + 1
       RETURNING last_value`,
      [request.tenantId, request.mode, year],
    );

    return formatInvoiceNumber(year, Number(rows[0].last_value));
  }
}
