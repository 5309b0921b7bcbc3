import { KeysetPosition, cursorTimestampSql, encodeCursor } from '@app/common/pagination/keyset-cursor';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { InvoiceLineEntity } from './invoice-line.entity';
import { InvoiceEntity, InvoiceStatus } from './invoice.entity';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface InvoiceWithLines {
  invoice: InvoiceEntity;
  lines: InvoiceLineEntity[];
}

export type NewInvoice = Omit<InvoiceEntity, 'id' | 'createdAt' | 'updatedAt'>;
export type NewInvoiceLine = Pick<InvoiceLineEntity, 'description' | 'quantity' | 'unitAmount' | 'amount'>;

export interface InvoiceListFilter {
  status?: InvoiceStatus;
  /** true: only overdue invoices; false: only those that are not; undefined: both. */
  overdue?: boolean;
  /** Today in the tenant's zone, `YYYY-MM-DD`, against which due dates are compared. */
  today: string;
  limit: number;
  after?: KeysetPosition;
}

export interface InvoicePage {
  data: InvoiceWithLines[];
  nextCursor: string | null;
}

/** Invoices of one tenant. Every method takes the tenant id, so another tenant's id finds nothing. */
@Injectable()
export class InvoicesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async findByPaymentId(manager: EntityManager, tenantId: string, paymentId: string): Promise<InvoiceEntity | null> {
    return manager.getRepository(InvoiceEntity).findOne({ where: { tenantId, paymentId } });
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
  async findById(tenantId: string, id: string): Promise<InvoiceWithLines | null> {
    if (!UUID_PATTERN.test(id)) {
      return null;
    }

    const invoice = await this.dataSource.getRepository(InvoiceEntity).findOne({ where: { tenantId, id } });
    if (!invoice) {
      return null;
    }

    const [withLines] = await this.attachLines(tenantId, [invoice]);

    return withLines;
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

    const overdueSql = `(invoice.status = 'open' AND invoice.due_date IS NOT NULL AND invoice.due_date < CAST(:today AS date))`;
    if (filter.overdue === true) {
      query.andWhere(overdueSql, { today: filter.today });
    } else if (filter.overdue === false) {
      query.andWhere(`NOT ${overdueSql}`, { today: filter.today });
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

  private async attachLines(tenantId: string, invoices: InvoiceEntity[]): Promise<InvoiceWithLines[]> {
    if (invoices.length === 0) {
      return [];
    }

    const lines = await this.dataSource.getRepository(InvoiceLineEntity).find({
      where: { tenantId, invoiceId: In(invoices.map((invoice) => invoice.id)) },
      order: { invoiceId: 'ASC', position: 'ASC' },
    });

    return invoices.map((invoice) => ({ invoice, lines: lines.filter((line) => line.invoiceId === invoice.id) }));
  }
}
