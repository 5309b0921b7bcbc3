import { jobIdFor } from '@app/common/queues/queue-names';

/** The payload of a process-webhook-event job: ids only, because the worker reads the event from the inbox. */
export interface ProcessWebhookEventJobData {
  webhookEventId: string;
  tenantId: string;
}

/** Build the job id of an inbox row, `webhook-event-<id>`, so a second add of the same row is a no-op. */
export function webhookEventJobId(webhookEventId: string): string {
  return jobIdFor('webhook-event', webhookEventId);
}

/**
 * Build a fresh job id, `webhook-event-<id>-r<attempts>`, for a row whose
 * original job id is taken by a finished job. It changes whenever the row was
 * processed again, so each round of re-enqueueing gets its own job.
 */
export function webhookEventRetryJobId(webhookEventId: string, attempts: number): string {
  return jobIdFor('webhook-event', `${webhookEventId}-r${attempts}`);
}
