import { OnDomainEvent } from '@app/common/events/on-domain-event.decorator';
import { describeError } from '@app/common/logging/error-description';
import { StripeConnectedEvent, StripeConnectionRestoredEvent, StripeKeysRotatedEvent } from '@app/contracts/stripe-connection.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { InvoiceJobQueue } from './invoice-job-queue';
import { InvoicesRepository } from './invoices.repository';

const CONSUMER = 'invoicing.resume-jobs-when-keys-change';
const BATCH_SIZE = 200;

/**
 * Runs a tenant's unfinished invoice jobs at once when its Stripe connection works again. That
 * is when the tenant connected again or edited its keys, or when verify found the stored key
 * accepted again after the connection was in error. Otherwise a job that failed while the key did
 * not work would wait for the daily reconciliation, and a job retrying with backoff would wait
 * out its growing delay.
 */
@Injectable()
export class ResumeInvoiceJobsWhenKeysChange {
  private readonly logger = new Logger(ResumeInvoiceJobsWhenKeysChange.name);

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly jobs: InvoiceJobQueue,
  ) {}

  @OnDomainEvent(StripeKeysRotatedEvent, CONSUMER)
  async onKeysRotated(event: StripeKeysRotatedEvent): Promise<void> {
    await this.resume(event.tenantId, 'keys rotated');
  }

  @OnDomainEvent(StripeConnectedEvent, CONSUMER)
  async onConnected(event: StripeConnectedEvent): Promise<void> {
    await this.resume(event.tenantId, 'connected');
  }

  @OnDomainEvent(StripeConnectionRestoredEvent, CONSUMER)
  async onConnectionRestored(event: StripeConnectionRestoredEvent): Promise<void> {
    await this.resume(event.tenantId, 'connection restored');
  }

  private async resume(tenantId: string, cause: string): Promise<void> {
    const counts = { promoted: 0, restarted: 0, unchanged: 0, failed: 0 };
    let afterId: string | null = null;
    for (;;) {
      const batch = await this.invoices.findUnfinishedStripeWork(tenantId, BATCH_SIZE, afterId);
      for (const { invoiceId, work } of batch) {
        try {
          const action = await this.jobs.runNow(work, { tenantId, invoiceId });
          if (action === 'promoted') {
            counts.promoted++;
          } else if (action === 'enqueued' || action === 'restarted') {
            counts.restarted++;
          } else {
            counts.unchanged++;
          }
        } catch (error) {
          // A job that moved on between the state check and the promote is already running.
          counts.failed++;
          this.logger.warn({ tenantId, invoiceId, work, err: describeError(error) }, 'Could not run an invoice job at once after a Stripe connection change');
        }
      }
      if (batch.length < BATCH_SIZE) {
        break;
      }
      afterId = batch[batch.length - 1].invoiceId;
    }

    if (counts.promoted + counts.restarted + counts.failed > 0) {
      this.logger.log({ tenantId, cause, ...counts }, 'Invoice jobs run at once after a Stripe connection change');
    }
  }
}
