import { outboxLagSeconds, outboxUnpublishedGauge, stripeConnectionsGauge, webhookEventsGauge } from '@app/common/metrics/metrics';
import { Logger } from '@nestjs/common';
import type { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { DatabaseGaugesCollector } from './database-gauges.collector';

// The collector is never registered here (onModuleInit is not called), so gauge.get() reads what the test set.
async function gaugeValue<L extends string>(gauge: Gauge<L>, labels: Record<string, string> = {}): Promise<number | undefined> {
  const { values } = await gauge.get();

  return values.find((value) => Object.entries(labels).every(([key, expected]) => value.labels[key as L] === expected))?.value;
}

function collectorWith(query: jest.Mock): DatabaseGaugesCollector {
  return new DatabaseGaugesCollector({ query } as unknown as DataSource);
}

describe('DatabaseGaugesCollector', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('reports the count of a status with rows', async () => {
    await collectorWith(jest.fn().mockResolvedValue([{ status: 'failed', count: 3 }])).collectWebhookEvents();

    expect(await gaugeValue(webhookEventsGauge, { status: 'failed' })).toBe(3);
  });

  it('reports 0 for a status without rows', async () => {
    await collectorWith(jest.fn().mockResolvedValue([{ status: 'failed', count: 3 }])).collectWebhookEvents();

    expect(await gaugeValue(webhookEventsGauge, { status: 'processed' })).toBe(0);
  });

  it('reports NaN when the query fails', async () => {
    await collectorWith(jest.fn().mockRejectedValue(new Error('connection terminated'))).collectStripeConnections();

    expect(await gaugeValue(stripeConnectionsGauge, { status: 'error' })).toBeNaN();
  });

  it('logs a failed query', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

    await collectorWith(jest.fn().mockRejectedValue(new Error('connection terminated'))).collectOutbox();

    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('reports the outbox backlog', async () => {
    await collectorWith(jest.fn().mockResolvedValue([{ unpublished: 4, lag_seconds: 12.5 }])).collectOutbox();

    expect(await gaugeValue(outboxLagSeconds)).toBe(12.5);
    expect(await gaugeValue(outboxUnpublishedGauge)).toBe(4);
  });

  it('reports NaN outbox lag when the query fails', async () => {
    await collectorWith(jest.fn().mockRejectedValue(new Error('timeout'))).collectOutbox();

    expect(await gaugeValue(outboxLagSeconds)).toBeNaN();
  });
});
