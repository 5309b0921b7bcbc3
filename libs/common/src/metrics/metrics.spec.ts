import * as promClient from 'prom-client';
import { register } from 'prom-client';
import {
  BILLING_METRIC_NAMES,
  boundedLabel,
  recordJob,
  recordSignatureFailure,
  recordStripeRequest,
  recordWebhookIntake,
  setGaugeCollector,
  WEBHOOK_EVENTS_GAUGE,
  webhookEventsGauge,
  webhookIntakeTotal,
} from './metrics';

async function valueOf(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = register.getSingleMetric(name);
  if (!metric) {
    return undefined;
  }
  const { values } = await metric.get();
  // A histogram's values include its buckets and sum; its observation count is the `_count` series.
  const match = values.find((value) => {
    const seriesName = (value as { metricName?: string }).metricName;
    const sameSeries = seriesName === undefined || seriesName === `${name}_count`;

    return sameSeries && Object.entries(labels).every(([key, expected]) => value.labels[key] === expected);
  });

  return match?.value;
}

describe('metrics', () => {
  it('registers every billing metric', () => {
    for (const name of BILLING_METRIC_NAMES) {
      expect(register.getSingleMetric(name)).toBeDefined();
    }
  });

  it('survives a second load of the module', () => {
    jest.isolateModules(() => {
      // A second copy of this file with the same prom-client finds the metrics in the registry instead of registering again.
      jest.doMock('prom-client', () => promClient);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect(() => require('./metrics')).not.toThrow();
    });
  });

  it('returns the registered metric to a second load', () => {
    jest.isolateModules(() => {
      jest.doMock('prom-client', () => promClient);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const secondCopy = require('./metrics') as typeof import('./metrics');

      expect(secondCopy.webhookIntakeTotal).toBe(webhookIntakeTotal);
    });
  });

  it('counts webhook intake by outcome', async () => {
    recordWebhookIntake('duplicate', 0.002);

    expect(await valueOf('billing_webhook_intake_total', { outcome: 'duplicate' })).toBe(1);
  });

  it('observes webhook intake latency', async () => {
    recordWebhookIntake('rate_limited', 0.004);

    expect(await valueOf('billing_webhook_intake_duration_seconds', { outcome: 'rate_limited' })).toBe(1);
  });

  it('counts signature failures by reason', async () => {
    recordSignatureFailure('timestamp_out_of_tolerance');

    expect(await valueOf('billing_webhook_signature_failures_total', { reason: 'timestamp_out_of_tolerance' })).toBe(1);
  });

  it('records a failed job under its reason', async () => {
    recordJob('invoices', 'send-invoice', Date.now() - 50, 'retry', 'stripe_unavailable');

    expect(await valueOf('billing_job_failures_total', { queue: 'invoices', reason: 'stripe_unavailable' })).toBe(1);
  });

  it('records a completed job without a failure', async () => {
    recordJob('domain-events', 'deliver-domain-event', Date.now(), 'completed');

    expect(await valueOf('billing_job_failures_total', { queue: 'domain-events' })).toBeUndefined();
  });

  it('replaces an id in a label with other', async () => {
    recordJob('invoices', 'issue-invoice', Date.now(), 'failed', 'Invoice 3f1c0e4a-0000 not found');

    expect(await valueOf('billing_job_failures_total', { queue: 'invoices', reason: 'other' })).toBe(1);
  });

  it('counts Stripe requests by method, resource and outcome', async () => {
    recordStripeRequest('post', 'refunds', 'server_error', 0.3);

    expect(await valueOf('billing_stripe_requests_total', { method: 'POST', resource: 'refunds', outcome: 'server_error' })).toBe(1);
  });

  it('runs the registered gauge collector at scrape time', async () => {
    const unregister = setGaugeCollector(WEBHOOK_EVENTS_GAUGE, async () => {
      webhookEventsGauge.set({ status: 'failed' }, 4);
    });

    const output = await register.metrics();
    unregister();

    expect(output).toContain('billing_webhook_events{status="failed"} 4');
  });
});

describe('boundedLabel', () => {
  it.each([
    ['payment_intents', 'payment_intents'],
    ['webhook-events', 'webhook-events'],
    ['pi_3Nabc', 'other'],
    ['8d0f2c7e-1b6a-4d0b-9b7e-3b1f4f0f6b1a', 'other'],
    ['', 'other'],
  ])('maps %p to %p', (input, expected) => {
    expect(boundedLabel(input)).toBe(expected);
  });
});
