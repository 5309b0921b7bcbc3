import { RequestContext } from '@app/common/context/request-context';
import { notFound } from '@app/common/errors/domain-error';
import { DEFAULT_PAGE_LIMIT, decodeCursor } from '@app/common/pagination/keyset-cursor';
import { Injectable } from '@nestjs/common';
import { InvoiceListResponse, InvoiceResponse } from './dto/invoice.response';
import { ListInvoicesQuery } from './dto/list-invoices.query';
import { InvoiceCalendarService } from './invoice-calendar.service';
import { toInvoiceResponse } from './invoice.mapper';
import { InvoicesRepository } from './invoices.repository';

/** Reads the tenant's invoices. */
@Injectable()
export class InvoicesService {
  constructor(
    private readonly context: RequestContext,
    private readonly invoices: InvoicesRepository,
    private readonly calendar: InvoiceCalendarService,
  ) {}

  async get(id: string): Promise<InvoiceResponse> {
    const tenantId = this.context.requireTenantId();
    const found = await this.invoices.findById(tenantId, id);
    if (!found) {
      throw notFound('invoice');
    }

    return toInvoiceResponse(found, await this.calendar.todayFor(tenantId));
  }

  async list(query: ListInvoicesQuery): Promise<InvoiceListResponse> {
    const tenantId = this.context.requireTenantId();
    const after = query.cursor !== undefined ? decodeCursor(query.cursor) : undefined;
    const today = await this.calendar.todayFor(tenantId);
    const page = await this.invoices.list(tenantId, {
      status: query.status,
      overdue: query.overdue === undefined ? undefined : query.overdue === 'true',
      today,
      limit: query.limit ?? DEFAULT_PAGE_LIMIT,
      after,
    });

    return { data: page.data.map((invoice) => toInvoiceResponse(invoice, today)), nextCursor: page.nextCursor };
  }
}
