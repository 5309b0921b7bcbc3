import { InjectQueue } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { RepeatedErrorLog } from '../logging/repeated-error-log';
import { QueueConnectionState, withTimeout } from '../queues/queue-connection-state';
import { JOB_DELIVER_DOMAIN_EVENT, QUEUE_DOMAIN_EVENTS, jobIdFor } from '../queues/queue-names';
import { DomainEventJobData } from './outbox-event.entity';

const BATCH_SIZE = 200;
const IDLE_POLL_MS = 200;
const ERROR_BACKOFF_MS = 2_000;
/**
 * The longest the relay waits for BullMQ to accept a batch while it holds the
 * rows locked. A batch that times out stays unpublished and goes again; if
 * BullMQ did accept it, the second add finds the same job ids and adds nothing.
 */
const ADD_TIMEOUT_MS = 5_000;

interface OutboxRow {
  id: string;
  tenant_id: string;
  event_name: string;
  aggregate_id: string;
  aggregate_sequence: string | null;
  payload: Record<string, unknown>;
  occurred_at: Date;
}

/**
 * Publishes unpublished outbox rows to the domain-events queue. Rows are locked
 * with SKIP LOCKED so several workers relay side by side, and marked published
 * only after BullMQ accepted them: a crash in between publishes a row twice,
 * which the job id (derived from the row id) and the consumers' records
 * absorb. While Redis is away, rows wait in the table, and the relay resumes
 * once the queue's connection is ready again.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private readonly failures = new RepeatedErrorLog(this.logger, 'Outbox relay failed; retrying');
  private readonly connection: QueueConnectionState;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(QUEUE_DOMAIN_EVENTS) private readonly queue: Queue<DomainEventJobData>,
  ) {
    this.connection = new QueueConnectionState(queue);
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
    this.logger.log('Outbox relay started');
  }

  /** Stop before the database and Redis connections close, letting a batch in flight finish. */
  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.logger.log('Outbox relay stopped');
  }

  /**
   * Relay one batch; returns how many rows were published. Public for tests.
   * The rows of every tenant are locked and marked through two SECURITY
   * DEFINER functions, so the transaction runs as the app role with no tenant.
   */
  relayBatch(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      // WITH ORDINALITY keeps the function's order (created_at, id), which a plain scan of its result need not.
      const rows: OutboxRow[] = await manager.query(
        `SELECT id, tenant_id, event_name, aggregate_id, aggregate_sequence, payload, occurred_at
           FROM app_claim_outbox_batch($1) WITH ORDINALITY AS claimed
          ORDER BY claimed.ordinality`,
        [BATCH_SIZE],
      );
      if (rows.length === 0) {
        return 0;
      }

      const jobs = rows.map((row) => ({
        name: JOB_DELIVER_DOMAIN_EVENT,
        data: {
          messageId: row.id,
          eventName: row.event_name,
          tenantId: row.tenant_id,
          aggregateId: row.aggregate_id,
          aggregateSequence: row.aggregate_sequence === null ? null : Number(row.aggregate_sequence),
          occurredAt: row.occurred_at.toISOString(),
          payload: row.payload,
        },
        opts: { jobId: jobIdFor('outbox', row.id) },
      }));
      await withTimeout(this.queue.addBulk(jobs), ADD_TIMEOUT_MS, 'Adding outbox events to the domain-events queue');
      await manager.query(`SELECT app_mark_outbox_published($1::uuid[])`, [rows.map((row) => row.id)]);

      return rows.length;
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      let delay = IDLE_POLL_MS;
      if (!this.connection.ready) {
        // Nothing can be published; keep the rows unlocked for a worker whose Redis connection works.
        delay = ERROR_BACKOFF_MS;
      } else {
        try {
          const published = await this.relayBatch();
          if (published === BATCH_SIZE) {
            delay = 0;
          }
        } catch (error) {
          this.failures.record(error);
          delay = ERROR_BACKOFF_MS;
        }
      }

      if (delay > 0 && this.running) {
        await this.sleep(delay);
      }
    }
  }

  private sleep(delayMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delayMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
