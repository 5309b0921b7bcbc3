import { Clock } from '@app/common/time/clock';
import { TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { addDaysToIsoDate, isoDateInZone, resolveTimeZone } from './invoice-number';

/** Dates in the tenant's own time zone (default America/Chicago), from the injectable clock. */
@Injectable()
export class InvoiceCalendarService {
  constructor(
    private readonly clock: Clock,
    @Inject(TENANCY_FACADE) private readonly tenancy: TenancyFacade,
  ) {}

  now(): Date {
    return this.clock.now();
  }

  async timeZoneOf(tenantId: string, manager?: EntityManager): Promise<string> {
    const tenant = await this.tenancy.getTenant(tenantId, manager);

    return resolveTimeZone(tenant?.timeZone);
  }

  /** Today's date in the tenant's zone, `YYYY-MM-DD`: the day against which due dates are overdue. */
  async todayFor(tenantId: string): Promise<string> {
    return isoDateInZone(this.now(), await this.timeZoneOf(tenantId));
  }

  /**
   * The due date of an invoice issued at `issuedAt` with payment terms of `days`: the issue
   * date in the tenant's zone plus that many days. It is overdue from the day after.
   */
  dueDate(issuedAt: Date, timeZone: string, days: number): string {
    return addDaysToIsoDate(isoDateInZone(issuedAt, timeZone), days);
  }
}
