import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { JOB_DELIVER_DOMAIN_EVENT, QUEUE_DOMAIN_EVENTS, jobIdFor } from '../queues/queue-names';
import { DomainEventJobData } from './outbox-event.entity';

const BATCH_SIZE = 200;
const IDLE_POLL_MS = 200;
const ERROR_BACKOFF_MS = 2_000;

interface OutboxRow {
  id: string;
  tenant_id: string;
  event_name: string;
  aggregate_id: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
}

/**
 * Publishes unpublished outbox rows to the domain-events queue. Rows are locked
 * with SKIP LOCKED so several workers relay side by side, and marked published
 * only after BullMQ accepted them: a crash in between publishes a row twice,
 * which the job id (derived from the row id) and the consumers' processed
 * messages absorb. While Redis is away, rows simply wait.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(QUEUE_DOMAIN_EVENTS) private readonly queue: Queue<DomainEventJobData>,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
    this.logger.log('Outbox relay started');
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.logger.log('Outbox relay stopped');
  }

  /** Relay one batch; returns how many rows were published. Public for tests. */
  async relayBatch(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const rows: OutboxRow[] = await manager.query(
        `SELECT id, tenant_id, event_name, aggregate_id, payload, occurred_at
           FROM outbox_events
          WHERE published_at IS NULL
          ORDER BY created_at, id
          LIMIT $1
          FOR UPDATE SKIP LOCKED`,
        [BATCH_SIZE],
      );
      if (rows.length === 0) {
        return 0;
      }

      await this.queue.addBulk(
        rows.map((row) => ({
          name: JOB_DELIVER_DOMAIN_EVENT,
          data: {
            messageId: row.id,
            eventName: row.event_name,
            tenantId: row.tenant_id,
            aggregateId: row.aggregate_id,
            occurredAt: row.occurred_at.toISOString(),
            payload: row.payload,
          },
          opts: { jobId: jobIdFor('outbox', row.id) },
        })),
      );
      await manager.query(`UPDATE outbox_events SET published_at = now() WHERE id = ANY($1::uuid[])`, [
        rows.map((row) => row.id),
      ]);

      return rows.length;
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      let delay = IDLE_POLL_MS;
      try {
        const published = await this.relayBatch();
        if (published === BATCH_SIZE) {
          delay = 0;
        }
      } catch (error) {
        this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'Outbox relay failed; retrying');
        delay = ERROR_BACKOFF_MS;
      }
      if (delay > 0 && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }
}
