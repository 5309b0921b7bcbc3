import { jobIdFor } from '@app/common/queues/queue-names';

/** The payload of a process-webhook-event job: ids only, because the worker reads the event from the inbox. */
export interface ProcessWebhookEventJobData {
  webhookEventId: string;
  tenantId: string;
  /**
   * The row's job generation this job was added for: 0 at intake, raised by
   * each replay and by the sweeper moving the row to a new job. Absent in jobs
   * added before generations existed, which count as 0.
   */
  generation?: number;
  /**
   * The event's `created`, the inbox's partition key, so that the claim finds
   * the row by its whole primary key. Intake sets it. Jobs of the sweeper and of
   * replays, and jobs added before it existed, lack it.
   */
  stripeCreated?: number;
}

/**
 * Build the job id of an inbox row's job: `webhook-event-<id>` for generation
 * 0, so a second add of the same row is a no-op, and
 * `webhook-event-<id>-g<generation>` after a replay or a move by the sweeper.
 */
export function webhookEventJobId(webhookEventId: string, generation = 0): string {
  return generation === 0 ? jobIdFor('webhook-event', webhookEventId) : jobIdFor('webhook-event', `${webhookEventId}-g${generation}`);
}
