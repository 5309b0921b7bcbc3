import {
  OUTBOX_LAG_GAUGE,
  OUTBOX_UNPUBLISHED_GAUGE,
  outboxLagSeconds,
  outboxUnpublishedGauge,
  setGaugeCollector,
  STRIPE_CONNECTIONS_GAUGE,
  stripeConnectionsGauge,
  WEBHOOK_EVENTS_GAUGE,
  webhookEventsGauge,
} from '@app/common/metrics/metrics';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ScrapeSource } from './scrape-source';
import { SCRAPE_CACHE_TTL_MS, SCRAPE_TIMEOUT_MS } from './scrape-settings';

/** Every status the webhook_events CHECK constraint allows. Each is reported, as 0 when no row has it. */
export const WEBHOOK_EVENT_STATUSES = ['received', 'processing', 'processed', 'failed', 'ignored'] as const;
/** Every status the stripe_connections CHECK constraint allows. */
export const STRIPE_CONNECTION_STATUSES = ['not_connected', 'connected', 'error'] as const;

interface StatusCountRow {
  status: string;
  count: number;
}

interface OutboxBacklog {
  unpublished: number;
  lagSeconds: number;
}

/**
 * Fills the gauges read from PostgreSQL at scrape time: inbox rows by status,
 * the outbox backlog and Stripe connections by status. Each counts every
 * tenant's rows through a SECURITY DEFINER function that returns only the
 * counts, so the queries run as the app role with no tenant.
 */
@Injectable()
export class DatabaseGaugesCollector implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(DatabaseGaugesCollector.name);
  private readonly unregister: Array<() => void> = [];

  // NOTE: count(*) over webhook_events reads the whole status index, which
  // grows with the inbox. The 5 s cache bounds how often each process runs it.
  private readonly webhookEvents = this.source('webhook_events', () =>
    this.countByStatus('SELECT status, count FROM app_count_webhook_events_by_status()'),
  );
  private readonly stripeConnections = this.source('stripe_connections', () =>
    this.countByStatus('SELECT status, count FROM app_count_stripe_connections_by_status()'),
  );
  // The partial index outbox_events_unpublished_idx covers unpublished rows only.
  private readonly outbox = this.source('outbox_events', () => this.loadOutboxBacklog());

  constructor(private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    this.unregister.push(
      setGaugeCollector(WEBHOOK_EVENTS_GAUGE, () => this.collectWebhookEvents()),
      setGaugeCollector(STRIPE_CONNECTIONS_GAUGE, () => this.collectStripeConnections()),
      setGaugeCollector(OUTBOX_LAG_GAUGE, () => this.collectOutbox()),
      setGaugeCollector(OUTBOX_UNPUBLISHED_GAUGE, () => this.collectOutbox()),
    );
  }

  onModuleDestroy(): void {
    for (const unregister of this.unregister.splice(0)) {
      unregister();
    }
  }

  async collectWebhookEvents(): Promise<void> {
    const counts = await this.webhookEvents.read();
    for (const status of WEBHOOK_EVENT_STATUSES) {
      webhookEventsGauge.set({ status }, counts === undefined ? Number.NaN : (counts.get(status) ?? 0));
    }
  }

  async collectStripeConnections(): Promise<void> {
    const counts = await this.stripeConnections.read();
    for (const status of STRIPE_CONNECTION_STATUSES) {
      stripeConnectionsGauge.set({ status }, counts === undefined ? Number.NaN : (counts.get(status) ?? 0));
    }
  }

  async collectOutbox(): Promise<void> {
    const backlog = await this.outbox.read();
    outboxUnpublishedGauge.set(backlog === undefined ? Number.NaN : backlog.unpublished);
    outboxLagSeconds.set(backlog === undefined ? Number.NaN : backlog.lagSeconds);
  }

  private async countByStatus(sql: string): Promise<Map<string, number>> {
    const rows: StatusCountRow[] = await this.dataSource.query(sql);

    return new Map(rows.map((row) => [row.status, Number(row.count)]));
  }

  private async loadOutboxBacklog(): Promise<OutboxBacklog> {
    const rows: Array<{ unpublished: number; lag_seconds: number }> = await this.dataSource.query('SELECT unpublished, lag_seconds FROM app_measure_outbox_backlog()');

    return { unpublished: Number(rows[0].unpublished), lagSeconds: Math.max(0, Number(rows[0].lag_seconds)) };
  }

  private source<T>(name: string, load: () => Promise<T>): ScrapeSource<T> {
    return new ScrapeSource({ name, load, cacheTtlMs: SCRAPE_CACHE_TTL_MS, timeoutMs: SCRAPE_TIMEOUT_MS, logger: this.logger });
  }
}
