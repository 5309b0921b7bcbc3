import { RequestContext } from '@app/common/context/request-context';
import { describeError } from '@app/common/logging/error-description';
import { Injectable, Logger } from '@nestjs/common';
import { InvoiceCalendarService } from './invoice-calendar.service';
import { isoDateInZone } from './invoice-number';
import { InvoicesRepository } from './invoices.repository';

export interface MarkOverdueResult {
  tenants: number;
  marked: number;
}

/**
 * Sets `overdue` on open invoices whose due date has passed in their tenant's time zone. The
 * scheduler runs it every hour, so each tenant's invoices turn overdue within the first hour
 * of the day after their due date, wherever the tenant is. The tenants are found across
 * tenants by a SECURITY DEFINER function, and each is then marked in its own tenant.
 */
@Injectable()
export class MarkOverdueInvoicesJob {
  private readonly logger = new Logger(MarkOverdueInvoicesJob.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly calendar: InvoiceCalendarService,
    private readonly context: RequestContext,
  ) {}

  async run(): Promise<MarkOverdueResult> {
    // No zone is more than 14 hours ahead of UTC, so no tenant's today is later than tomorrow
    // in UTC, and an invoice overdue anywhere was due on or before today in UTC.
    const latestDueDate = isoDateInZone(this.calendar.now(), 'UTC');
    const tenantIds = await this.invoices.findTenantsWithOverdueCandidatesAcrossTenants(latestDueDate);
    const result: MarkOverdueResult = { tenants: tenantIds.length, marked: 0 };
    for (const tenantId of tenantIds) {
      try {
        result.marked += await this.context.runAsTenant(tenantId, () => this.markTenant(tenantId));
      } catch (error) {
        this.logger.error({ tenantId, err: describeError(error) }, 'Overdue check failed for a tenant; the next run tries again');
      }
    }

    this.logger.log(result, 'Overdue check finished');

    return result;
  }

  private async markTenant(tenantId: string): Promise<number> {
    const today = await this.calendar.todayFor(tenantId);
    const marked = await this.invoices.markOverdue(tenantId, today);
    for (const invoice of marked) {
      this.logger.log({ tenantId, invoiceId: invoice.id, number: invoice.number, today }, 'Invoice is overdue');
    }

    return marked.length;
  }
}
