import { QUEUE_JOBS_GAUGE, queueJobsGauge, setGaugeCollector } from '@app/common/metrics/metrics';
import { QUEUE_DOMAIN_EVENTS, QUEUE_INVOICES, QUEUE_MAINTENANCE, QUEUE_PAYMENTS, QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { ScrapeSource } from './scrape-source';
import { SCRAPE_CACHE_TTL_MS, SCRAPE_TIMEOUT_MS } from './scrape-settings';

/** The queues whose depth /metrics reports. */
export const OBSERVED_QUEUES = [QUEUE_WEBHOOK_EVENTS, QUEUE_DOMAIN_EVENTS, QUEUE_INVOICES, QUEUE_PAYMENTS, QUEUE_MAINTENANCE] as const;

/**
 * BullMQ job states reported per queue, each one even when 0.
 * BullMQ 5 and later count the jobs of a paused queue as `waiting`.
 */
export const QUEUE_JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

type JobCounts = Record<string, number>;

/** Fills billing_queue_jobs{queue,state} from BullMQ's job counts at scrape time, one Redis call per queue. */
@Injectable()
export class QueueGaugesCollector implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(QueueGaugesCollector.name);
  private readonly sources: Array<{ queue: string; source: ScrapeSource<JobCounts> }>;
  private unregister: (() => void) | undefined;

  constructor(
    @InjectQueue(QUEUE_WEBHOOK_EVENTS) webhookEvents: Queue,
    @InjectQueue(QUEUE_DOMAIN_EVENTS) domainEvents: Queue,
    @InjectQueue(QUEUE_INVOICES) invoices: Queue,
    @InjectQueue(QUEUE_PAYMENTS) payments: Queue,
    @InjectQueue(QUEUE_MAINTENANCE) maintenance: Queue,
  ) {
    this.sources = [webhookEvents, domainEvents, invoices, payments, maintenance].map((queue) => ({
      queue: queue.name,
      source: new ScrapeSource<JobCounts>({
        name: `queue ${queue.name}`,
        load: () => queue.getJobCounts(...QUEUE_JOB_STATES),
        cacheTtlMs: SCRAPE_CACHE_TTL_MS,
        timeoutMs: SCRAPE_TIMEOUT_MS,
        logger: this.logger,
      }),
    }));
  }

  onModuleInit(): void {
    this.unregister = setGaugeCollector(QUEUE_JOBS_GAUGE, () => this.collect());
  }

  onModuleDestroy(): void {
    this.unregister?.();
  }

  async collect(): Promise<void> {
    await Promise.all(
      this.sources.map(async ({ queue, source }) => {
        const counts = await source.read();
        for (const state of QUEUE_JOB_STATES) {
          queueJobsGauge.set({ queue, state }, counts === undefined ? Number.NaN : (counts[state] ?? 0));
        }
      }),
    );
  }
}
