import { describeError } from '@app/common/logging/error-description';
import { PermanentJobError } from '@app/common/queues/job-errors';
import { JOB_RECONCILE_TENANT_INVOICES, QUEUE_INVOICES, jobIdFor } from '@app/common/queues/queue-names';
import { isStripeError } from '@app/common/stripe/stripe-error.mapper';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { InvoiceJobErrors } from './invoice-job-errors';
import { EnsureResult, InvoiceJobQueue } from './invoice-job-queue';
import { InvoiceStripeSyncService } from './invoice-stripe-sync.service';
import { InvoiceEntity } from './invoice.entity';
import { InvoicesRepository, StripeWork } from './invoices.repository';
import { StripeInvoicesGateway } from './stripe-invoices.gateway';

const BATCH_SIZE = 100;

export interface ReconcileTenantInvoicesJobData {
  tenantId: string;
}

export interface ReconcileTenantResult {
  result: 'done' | 'skipped';
  reason?: string;
  checked: number;
  corrected: number;
  requeued: number;
  unreadable: number;
}

/**
 * Compares the B2B invoices whose outcome Stripe still decides with Stripe, one tenant per job,
 * and corrects drift. It applies statuses Stripe moved on without an event reaching the
 * service, logging each correction, and starts the missing or failed jobs of unfinished
 * invoices afresh. A disconnected tenant is skipped.
 */
@Injectable()
export class ReconcileInvoicesJob {
  private readonly logger = new Logger(ReconcileInvoicesJob.name);

  constructor(
    @InjectQueue(QUEUE_INVOICES) private readonly queue: Queue<ReconcileTenantInvoicesJobData>,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
    private readonly invoices: InvoicesRepository,
    private readonly gateway: StripeInvoicesGateway,
    private readonly sync: InvoiceStripeSyncService,
    private readonly jobs: InvoiceJobQueue,
    private readonly errors: InvoiceJobErrors,
  ) {}

  /** Enqueues one reconciliation job per tenant with invoices to compare; `runDate` keeps it to one a day. */
  async fanOut(runDate: string): Promise<{ tenants: number }> {
    const tenantIds = await this.invoices.findTenantsToReconcileAcrossTenants();
    for (const tenantId of tenantIds) {
      await this.queue.add(JOB_RECONCILE_TENANT_INVOICES, { tenantId }, { jobId: jobIdFor(JOB_RECONCILE_TENANT_INVOICES, `${tenantId}-${runDate}`) });
    }
    this.logger.log({ tenants: tenantIds.length, runDate }, 'Invoice reconciliation enqueued per tenant');

    return { tenants: tenantIds.length };
  }

  async reconcileTenant({ tenantId }: ReconcileTenantInvoicesJobData): Promise<ReconcileTenantResult> {
    const result: ReconcileTenantResult = { result: 'done', checked: 0, corrected: 0, requeued: 0, unreadable: 0 };
    const connection = await this.stripeConnection.getConnection(tenantId);
    if (connection.status !== 'connected') {
      this.logger.log({ tenantId, connection: connection.status }, 'Invoice reconciliation skipped: the tenant is not connected to Stripe');

      return { ...result, result: 'skipped', reason: connection.status === 'error' ? 'stripe_keys_invalid' : 'tenant_disconnected' };
    }

    const client = await this.stripeConnection.getClient(tenantId);
    let afterId: string | null = null;
    for (;;) {
      const batch = await this.invoices.findToReconcile(tenantId, BATCH_SIZE, afterId);
      for (const invoice of batch) {
        await this.reconcileInvoice(client, invoice, result);
      }
      if (batch.length < BATCH_SIZE) {
        break;
      }
      afterId = batch[batch.length - 1].id;
    }

    this.logger.log({ tenantId, ...result }, 'Invoice reconciliation finished for a tenant');

    return result;
  }

  private async reconcileInvoice(client: TenantStripeClient, invoice: InvoiceEntity, result: ReconcileTenantResult): Promise<void> {
    result.checked++;
    if (invoice.status === 'issuing') {
      await this.restartJob('issue', invoice, result);

      return;
    }
    if (invoice.status === 'void') {
      await this.restartJob('void', invoice, result);

      return;
    }
    if (invoice.stripeInvoiceId === null) {
      this.logger.warn({ tenantId: invoice.tenantId, invoiceId: invoice.id, status: invoice.status }, 'Issued invoice has no Stripe invoice id');

      return;
    }

    try {
      const stripeInvoice = await this.gateway.retrieve(client, invoice.stripeInvoiceId);
      const outcome = await this.sync.apply(invoice.tenantId, invoice.id, stripeInvoice, 'reconciliation');
      if (outcome?.changed) {
        result.corrected++;
      }
      if ((outcome?.to ?? invoice.status) === 'open' && invoice.sentAt === null) {
        await this.restartJob('send', invoice, result);
      }
    } catch (error) {
      const classified = await this.errors.classify(invoice.tenantId, error);
      if (classified instanceof PermanentJobError && classified.reason !== 'stripe_request_rejected') {
        // The key or the connection went: every other invoice of the tenant fails alike.
        throw classified;
      }

      result.unreadable++;
      this.logger.warn(
        {
          tenantId: invoice.tenantId,
          invoiceId: invoice.id,
          stripeInvoiceId: invoice.stripeInvoiceId,
          err: describeError(classified),
          notFound: isStripeError(error) && error.statusCode === 404,
        },
        'Reconciliation could not read the Stripe invoice',
      );
    }
  }

  private async restartJob(work: StripeWork, invoice: InvoiceEntity, result: ReconcileTenantResult): Promise<void> {
    const action: EnsureResult = await this.jobs.ensure(work, { tenantId: invoice.tenantId, invoiceId: invoice.id }, { restartFailed: true });
    if (action === 'enqueued' || action === 'restarted') {
      result.requeued++;
      this.logger.warn(
        { tenantId: invoice.tenantId, invoiceId: invoice.id, number: invoice.number, work, action },
        'Reconciliation started the job of an unfinished invoice again',
      );
    }
  }
}
