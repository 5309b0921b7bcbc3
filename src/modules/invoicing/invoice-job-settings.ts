import { Injectable } from '@nestjs/common';

/**
 * Timings of the invoice jobs. A class, not constants, so tests can shorten them on the
 * running application.
 */
@Injectable()
export class InvoiceJobSettings {
  /**
   * How long after an attempt to create a Stripe invoice an empty search still proves nothing.
   * Stripe documents search data as available in under a minute under normal conditions.
   */
  searchSettleMs = 60_000;

  /** The job sweeper leaves invoices changed more recently than this to their own jobs. */
  sweepGraceSeconds = 60;
}
