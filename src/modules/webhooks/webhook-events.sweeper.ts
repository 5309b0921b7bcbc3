import { RequestContext } from '@app/common/context/request-context';
import { describeError } from '@app/common/logging/error-description';
import { JOB_PROCESS_WEBHOOK_EVENT, JOB_SWEEP_WEBHOOK_EVENTS, QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { RecurringJob } from '@app/common/queues/recurring-job';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { ProcessWebhookEventJobData, webhookEventJobId } from './process-webhook-event.job';
import { UnfinishedWebhookEvent, WebhookEventsRepository } from './webhook-events.repository';

export const SWEEP_SCHEDULER_ID = 'sweep-webhook-events';
export const SWEEP_EVERY_MS = 10_000;
/** Rows whose job was added less than this long ago are left alone: the job is normally still on its way. */
export const SWEEP_GRACE_SECONDS = 30;
const SWEEP_BATCH_SIZE = 500;

/** Counts of what one sweep did to the rows it found. */
export interface SweepResult {
  /** Rows whose job was missing, or finished while the row was not, and got a job. */
  enqueued: number;
  /** Rows whose job had failed and was moved back to waiting. */
  retried: number;
}

type SweepAction = 'enqueued' | 'retried' | 'queued';

/**
 * Finds inbox rows that are still `received` or `processing` after the grace
 * period and have no live job, which happens when Redis was away at intake or
 * lost its data, and enqueues them again. It runs as a BullMQ job scheduler on
 * the webhook-events queue, upserted at every worker start and again whenever
 * the queue's Redis connection becomes ready, so it comes back after Redis
 * restarts without its data.
 */
@Injectable()
export class WebhookEventsSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WebhookEventsSweeper.name);
  private readonly recurring: RecurringJob;

  constructor(
    @InjectQueue(QUEUE_WEBHOOK_EVENTS) private readonly queue: Queue<ProcessWebhookEventJobData | Record<string, never>>,
    private readonly events: WebhookEventsRepository,
    private readonly context: RequestContext,
  ) {
    this.recurring = new RecurringJob(
      queue as Queue,
      { schedulerId: SWEEP_SCHEDULER_ID, everyMs: SWEEP_EVERY_MS, jobName: JOB_SWEEP_WEBHOOK_EVENTS, label: 'webhook sweeper' },
      this.logger,
    );
  }

  onApplicationBootstrap(): void {
    this.recurring.start();
  }

  onApplicationShutdown(): void {
    this.recurring.stop();
  }

  /**
   * Enqueue every unfinished row queued more than `graceSeconds` ago whose job is missing or finished.
   * A SECURITY DEFINER function finds the rows across tenants, and each row is then handled in its tenant.
   */
  async sweep(graceSeconds = SWEEP_GRACE_SECONDS): Promise<SweepResult> {
    const rows = await this.events.findUnfinished(graceSeconds, SWEEP_BATCH_SIZE);
    const result: SweepResult = { enqueued: 0, retried: 0 };
    for (const row of rows) {
      const action = await this.context.runAsTenant(row.tenantId, () => this.requeue(row));
      if (action === 'enqueued' || action === 'retried') {
        result[action]++;
      }
    }

    if (result.enqueued + result.retried > 0) {
      this.logger.log({ ...result, unfinished: rows.length }, 'Webhook sweeper re-enqueued unfinished events');
    }

    return result;
  }

  private async requeue(row: UnfinishedWebhookEvent): Promise<SweepAction> {
    const log = { tenantId: row.tenantId, webhookEventId: row.id, attempts: row.attempts, generation: row.generation };
    try {
      const action = await this.ensureJob(row);
      if (action !== 'queued') {
        this.logger.log({ ...log, action }, 'Webhook sweeper re-enqueued an unfinished event');
      }

      return action;
    } catch (error) {
      this.logger.warn({ ...log, err: describeError(error) }, 'Webhook sweeper could not re-enqueue an event');

      return 'queued';
    }
  }

  /**
   * Make sure the row's job can still run. A missing job is added under the
   * row's job id. A failed one is retried, and because BullMQ keeps its
   * attempt count, a job that used up its attempts fails the row on its next
   * error. A completed job's id cannot be reused, so the row moves to a job
   * of the next generation.
   */
  private async ensureJob(row: UnfinishedWebhookEvent): Promise<SweepAction> {
    const jobId = webhookEventJobId(row.id, row.generation);
    const job = await this.queue.getJob(jobId);
    if (!job) {
      await this.add(row, row.generation);

      return 'enqueued';
    }

    const state = await job.getState();
    if (state === 'failed') {
      await job.retry('failed');

      return 'retried';
    }

    if (state === 'completed' || state === 'unknown') {
      const generation = await this.events.moveToNextGeneration(row.tenantId, row.id, row.generation);
      if (generation === null) {
        return 'queued';
      }

      await this.add(row, generation);

      return 'enqueued';
    }

    return 'queued';
  }

  private async add(row: UnfinishedWebhookEvent, generation: number): Promise<void> {
    const data: ProcessWebhookEventJobData = { webhookEventId: row.id, tenantId: row.tenantId, generation };
    await this.queue.add(JOB_PROCESS_WEBHOOK_EVENT, data, { jobId: webhookEventJobId(row.id, generation) });
  }
}
