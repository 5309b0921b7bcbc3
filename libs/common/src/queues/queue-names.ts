import type { JobsOptions } from 'bullmq';

/** Queue and job names, in one place because producers and workers must agree on them. */
export const QUEUE_WEBHOOK_EVENTS = 'webhook-events';
export const QUEUE_DOMAIN_EVENTS = 'domain-events';
export const QUEUE_INVOICES = 'invoices';
/**
 * The payments queue: refunds sent to Stripe again after a request that got
 * no response, and the sweep that finds such refunds. Its backoff starts at
 * 5 s and doubles, so 12 attempts span about 2.8 hours (5 s × (2^11 − 1)),
 * well within the 24 hours Stripe keeps the refund's idempotency key.
 */
export const QUEUE_PAYMENTS = 'payments';
/** Housekeeping of the database: creating monthly partitions ahead and dropping expired ones. */
export const QUEUE_MAINTENANCE = 'maintenance';
/** Every queue of the service, as operators list and retry them. */
export const ALL_QUEUES = [QUEUE_WEBHOOK_EVENTS, QUEUE_DOMAIN_EVENTS, QUEUE_INVOICES, QUEUE_PAYMENTS, QUEUE_MAINTENANCE] as const;
export type QueueName = (typeof ALL_QUEUES)[number];

export const JOB_PROCESS_WEBHOOK_EVENT = 'process-webhook-event';
export const JOB_SWEEP_WEBHOOK_EVENTS = 'sweep-webhook-events';
export const JOB_DELIVER_DOMAIN_EVENT = 'deliver-domain-event';
export const JOB_ISSUE_PAYMENT_INVOICE = 'issue-payment-invoice';
export const JOB_ISSUE_INVOICE = 'issue-invoice';
export const JOB_SEND_INVOICE = 'send-invoice';
export const JOB_VOID_INVOICE = 'void-invoice';
export const JOB_SWEEP_INVOICE_JOBS = 'sweep-invoice-jobs';
export const JOB_MARK_OVERDUE_INVOICES = 'mark-overdue-invoices';
export const JOB_RECONCILE_INVOICES = 'reconcile-invoices';
export const JOB_RECONCILE_TENANT_INVOICES = 'reconcile-tenant-invoices';
export const JOB_CREATE_PARTITIONS = 'create-partitions';
export const JOB_DROP_EXPIRED_PARTITIONS = 'drop-expired-partitions';

/** Failed jobs stay this long: the replay window on-call engineers work within. */
export const FAILED_JOB_RETENTION_SECONDS = 14 * 24 * 60 * 60;
export const COMPLETED_JOB_RETENTION = { age: 24 * 60 * 60, count: 10_000 };

export const WEBHOOK_EVENT_ATTEMPTS = 8;
export const DOMAIN_EVENT_ATTEMPTS = 10;
export const INVOICE_JOB_ATTEMPTS = 10;
export const BACKOFF_BASE_DELAY_MS = 1_000;

export function defaultJobOptions(attempts: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: BACKOFF_BASE_DELAY_MS },
    removeOnComplete: COMPLETED_JOB_RETENTION,
    removeOnFail: { age: FAILED_JOB_RETENTION_SECONDS },
  };
}

/**
 * BullMQ rejects custom job ids that look like integers or contain `:`, so ids
 * are prefixed with their kind: `webhook-event-42`.
 */
export function jobIdFor(kind: string, id: string | number): string {
  return `${kind}-${String(id).replace(/:/g, '-')}`;
}

export const JOB_SUBMIT_REFUND = 'submit-refund';
export const JOB_SWEEP_UNSENT_REFUNDS = 'sweep-unsent-refunds';
export const JOB_SWEEP_UNANSWERED_PAYMENTS = 'sweep-unanswered-payments';
export const PAYMENT_JOB_ATTEMPTS = 12;
export const PAYMENT_JOB_BACKOFF_BASE_DELAY_MS = 5_000;
