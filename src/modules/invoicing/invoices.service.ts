import { RequestContext } from '@app/common/context/request-context';
import { notFound } from '@app/common/errors/domain-error';
import { DEFAULT_PAGE_LIMIT, decodeCursor } from '@app/common/pagination/keyset-cursor';
import { Injectable } from '@nestjs/common';
import { InvoiceListResponse, InvoiceResponse } from './dto/invoice.response';
import { ListInvoicesQuery } from './dto/list-invoices.query';
import { toInvoiceResponse } from './invoice.mapper';
import { InvoicesRepository } from './invoices.repository';

/** Reads the tenant's invoices. */
@Injectable()
export class InvoicesService {
  constructor(
    private readonly context: RequestContext,
    private readonly invoices: InvoicesRepository,
  ) {}

  async get(id: string): Promise<InvoiceResponse> {
    const found = await this.invoices.findById(this.context.requireTenantId(), id);
    if (!found) {
      throw notFound('invoice');
    }

    return toInvoiceResponse(found);
  }

  async list(query: ListInvoicesQuery): Promise<InvoiceListResponse> {
    const after = query.cursor !== undefined ? decodeCursor(query.cursor) : undefined;
    const page = await this.invoices.list(this.context.requireTenantId(), {
      status: query.status,
      overdue: query.overdue === undefined ? undefined : query.overdue === 'true',
      limit: query.limit ?? DEFAULT_PAGE_LIMIT,
      after,
    });

    return { data: page.data.map(toInvoiceResponse), nextCursor: page.nextCursor };
  }
}
