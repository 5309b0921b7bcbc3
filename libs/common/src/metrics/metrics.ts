import type { SignatureFailure } from '@app/common/stripe/webhook-signature';
import { Counter, Gauge, Histogram, register } from 'prom-client';

/**
 * Every Prometheus metric of the service, registered once in prom-client's
 * default registry. Other code records through the helpers below and never
 * creates a metric itself. Label values come from closed sets (outcomes,
 * queue and job names, Stripe resources), never from ids, so the number of
 * time series stays bounded.
 */

export const WEBHOOK_INTAKE_OUTCOMES = [
  'accepted',
  'duplicate',
  'signature_invalid',
  'not_found',
  'payload_too_large',
  'rate_limited',
  'unavailable',
] as const;
export type WebhookIntakeOutcome = (typeof WEBHOOK_INTAKE_OUTCOMES)[number];

export const SIGNATURE_FAILURE_REASONS: readonly SignatureFailure[] = [
  'missing_header',
  'malformed_header',
  'timestamp_out_of_tolerance',
  'no_matching_signature',
];

export const JOB_RESULTS = ['completed', 'retry', 'failed'] as const;
/** `retry` means the attempt failed and BullMQ runs the job again. `failed` means no attempt is left or the error is permanent. */
export type JobResult = (typeof JOB_RESULTS)[number];

export const STRIPE_OUTCOMES = [
  'ok',
  'card_error',
  'client_error',
  'auth_error',
  'rate_limited',
  'server_error',
  'network_error',
] as const;
export type StripeOutcome = (typeof STRIPE_OUTCOMES)[number];

/** Replaces a label value outside the expected shape, so a caller's mistake cannot create unbounded series. */
export const OTHER_LABEL = 'other';
const LABEL_VALUE_PATTERN = /^[a-z][a-z0-9_-]{0,47}$/;

/** Buckets in seconds: webhook intake responds in milliseconds, so the low end is fine-grained. */
const INTAKE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const STRIPE_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 80];
const JOB_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

type MetricConstructor<M, C> = new (configuration: C) => M;

/**
 * Returns the metric already registered under this name, or registers it.
 * Jest loads a module once per test file and Nest may import this file
 * through several paths, while the default registry is process-wide.
 */
function singleMetric<M, C extends { name: string }>(Type: MetricConstructor<M, C>, configuration: C): M {
  const existing = register.getSingleMetric(configuration.name);
  if (existing) {
    return existing as unknown as M;
  }

  return new Type(configuration);
}

export const webhookIntakeTotal = singleMetric(Counter<'outcome'>, {
  name: 'billing_webhook_intake_total',
  help: 'Webhook deliveries received on /webhooks/stripe, by outcome.',
  labelNames: ['outcome'],
});

export const webhookIntakeDuration = singleMetric(Histogram<'outcome'>, {
  name: 'billing_webhook_intake_duration_seconds',
  help: 'Time from receiving a webhook delivery to sending the response, in seconds, by outcome.',
  labelNames: ['outcome'],
  buckets: INTAKE_BUCKETS,
});

export const webhookSignatureFailuresTotal = singleMetric(Counter<'reason'>, {
  name: 'billing_webhook_signature_failures_total',
  help: 'Webhook deliveries whose Stripe-Signature header failed verification, by reason.',
  labelNames: ['reason'],
});

/** Names of the rate limits, the `limit` label of the rate-limit metrics. */
export const RATE_LIMIT_NAMES = ['api', 'login_account', 'login_ip', 'webhook_signature_failures'] as const;
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

export const rateLimitRejectionsTotal = singleMetric(Counter<'limit'>, {
  name: 'billing_rate_limit_rejections_total',
  help: 'Requests rejected with 429 rate_limited, by limit.',
  labelNames: ['limit'],
});

export const rateLimitStoreErrorsTotal = singleMetric(Counter<'limit'>, {
  name: 'billing_rate_limit_store_errors_total',
  help: 'Rate-limit checks that failed open because Redis failed or did not respond in time, by limit.',
  labelNames: ['limit'],
});

export const webhookSignatureFailureSpikesTotal = singleMetric(Counter, {
  name: 'billing_webhook_signature_failure_spikes_total',
  help: 'Times an endpoint token reached half its failed-signature limit within one window, which usually means a signing secret is out of sync.',
});

export const jobDuration = singleMetric(Histogram<'queue' | 'name' | 'result'>, {
  name: 'billing_job_duration_seconds',
  help: 'Duration of one BullMQ job attempt in seconds, by queue, job name and result (completed, retry, failed).',
  labelNames: ['queue', 'name', 'result'],
  buckets: JOB_BUCKETS,
});

export const jobFailuresTotal = singleMetric(Counter<'queue' | 'reason'>, {
  name: 'billing_job_failures_total',
  help: 'Failed BullMQ job attempts, by queue and failure reason.',
  labelNames: ['queue', 'reason'],
});

export const stripeRequestsTotal = singleMetric(Counter<'method' | 'resource' | 'outcome'>, {
  name: 'billing_stripe_requests_total',
  help: 'Stripe API requests, by HTTP method, resource (first path segment after /v1) and outcome.',
  labelNames: ['method', 'resource', 'outcome'],
});

export const stripeRequestDuration = singleMetric(Histogram<'resource' | 'outcome'>, {
  name: 'billing_stripe_request_duration_seconds',
  help: 'Stripe API request latency in seconds, by resource and outcome.',
  labelNames: ['resource', 'outcome'],
  buckets: STRIPE_BUCKETS,
});

// Gauges set at scrape time. prom-client calls a gauge's `collect()` before
// reading it; the function registered with setGaugeCollector does the work.

/** Sets the gauges' values; it must resolve quickly and never reject. */
export type GaugeCollector = () => Promise<void>;

// Kept on globalThis, so a second copy of this file (loaded from dist/ and from
// src/ in one process) still reaches the collectors of the gauges registered first.
const COLLECTORS_KEY = Symbol.for('billing.metrics.gaugeCollectors');
const gaugeCollectors: Map<string, GaugeCollector> = ((globalThis as Record<symbol, unknown>)[COLLECTORS_KEY] ??= new Map()) as Map<
  string,
  GaugeCollector
>;

/**
 * Makes `collector` fill the gauge named `metricName` at every scrape. A later
 * call replaces the earlier collector (the newest application instance wins in
 * tests that boot several). Returns a function that removes the collector if
 * it is still the current one.
 */
export function setGaugeCollector(metricName: string, collector: GaugeCollector): () => void {
  gaugeCollectors.set(metricName, collector);

  return () => {
    if (gaugeCollectors.get(metricName) === collector) {
      gaugeCollectors.delete(metricName);
    }
  };
}

export const WEBHOOK_EVENTS_GAUGE = 'billing_webhook_events';
export const QUEUE_JOBS_GAUGE = 'billing_queue_jobs';
export const OUTBOX_LAG_GAUGE = 'billing_outbox_lag_seconds';
export const OUTBOX_UNPUBLISHED_GAUGE = 'billing_outbox_unpublished';
export const STRIPE_CONNECTIONS_GAUGE = 'billing_stripe_connections';

function collectorFor(metricName: string): () => Promise<void> {
  return async () => {
    const collector = gaugeCollectors.get(metricName);
    if (collector) {
      await collector();
    }
  };
}

export const webhookEventsGauge = singleMetric(Gauge<'status'>, {
  name: WEBHOOK_EVENTS_GAUGE,
  collect: collectorFor(WEBHOOK_EVENTS_GAUGE),
  help: 'Rows in the webhook_events inbox, by status (received, processing, processed, failed, ignored).',
  labelNames: ['status'],
});

export const queueJobsGauge = singleMetric(Gauge<'queue' | 'state'>, {
  name: QUEUE_JOBS_GAUGE,
  collect: collectorFor(QUEUE_JOBS_GAUGE),
  help: 'BullMQ jobs per queue and state (waiting, active, delayed, prioritized, waiting-children, completed, failed).',
  labelNames: ['queue', 'state'],
});

export const outboxLagSeconds = singleMetric(Gauge, {
  name: OUTBOX_LAG_GAUGE,
  collect: collectorFor(OUTBOX_LAG_GAUGE),
  help: 'Age in seconds of the oldest unpublished outbox_events row; 0 when every row is published.',
});

export const outboxUnpublishedGauge = singleMetric(Gauge, {
  name: OUTBOX_UNPUBLISHED_GAUGE,
  collect: collectorFor(OUTBOX_UNPUBLISHED_GAUGE),
  help: 'Rows in outbox_events not yet published to the domain-events queue.',
});

export const stripeConnectionsGauge = singleMetric(Gauge<'status'>, {
  name: STRIPE_CONNECTIONS_GAUGE,
  collect: collectorFor(STRIPE_CONNECTIONS_GAUGE),
  help: 'Tenants Stripe connections by status (not_connected, connected, error).',
  labelNames: ['status'],
});

/** Names of every metric this file defines, for tests that check alert rules and dashboards against them. */
export const BILLING_METRIC_NAMES = [
  'billing_webhook_intake_total',
  'billing_webhook_intake_duration_seconds',
  'billing_webhook_signature_failures_total',
  'billing_rate_limit_rejections_total',
  'billing_rate_limit_store_errors_total',
  'billing_webhook_signature_failure_spikes_total',
  'billing_job_duration_seconds',
  'billing_job_failures_total',
  'billing_stripe_requests_total',
  'billing_stripe_request_duration_seconds',
  'billing_webhook_events',
  'billing_queue_jobs',
  'billing_outbox_lag_seconds',
  'billing_outbox_unpublished',
  'billing_stripe_connections',
] as const;

/** Records one webhook delivery: its outcome and how long intake took, in seconds. */
export function recordWebhookIntake(outcome: WebhookIntakeOutcome, seconds: number): void {
  const label = oneOf(WEBHOOK_INTAKE_OUTCOMES, outcome);
  webhookIntakeTotal.inc({ outcome: label });
  webhookIntakeDuration.observe({ outcome: label }, nonNegative(seconds));
}

/** Counts one failed signature verification. Call it beside recordWebhookIntake('signature_invalid', …). */
export function recordSignatureFailure(reason: SignatureFailure): void {
  webhookSignatureFailuresTotal.inc({ reason: oneOf(SIGNATURE_FAILURE_REASONS, reason) });
}

/** Counts one request rejected with 429 by the named limit. */
export function recordRateLimitRejection(limit: RateLimitName): void {
  rateLimitRejectionsTotal.inc({ limit: oneOf(RATE_LIMIT_NAMES, limit) });
}

/** Counts one rate-limit check that let the request through because Redis failed. */
export function recordRateLimitStoreError(limit: RateLimitName): void {
  rateLimitStoreErrorsTotal.inc({ limit: oneOf(RATE_LIMIT_NAMES, limit) });
}

export function recordWebhookSignatureFailureSpike(): void {
  webhookSignatureFailureSpikesTotal.inc();
}

/**
 * Records one job attempt. `startedAt` is the attempt's start in epoch
 * milliseconds (`Date.now()` taken when the processor began). Attempts with
 * result `retry` or `failed` also count in billing_job_failures_total under
 * `reason`, a short snake_case word such as an error code (`stripe_unavailable`),
 * `retry_later` or `permanent`; it defaults to `error`.
 */
export function recordJob(queue: string, name: string, startedAt: number, result: JobResult, reason?: string): void {
  const queueLabel = boundedLabel(queue);
  const seconds = nonNegative((Date.now() - startedAt) / 1000);
  jobDuration.observe({ queue: queueLabel, name: boundedLabel(name), result: oneOf(JOB_RESULTS, result) }, seconds);

  if (result !== 'completed') {
    jobFailuresTotal.inc({ queue: queueLabel, reason: boundedLabel(reason ?? 'error') });
  }
}

/** Records one Stripe API request. `instrumentStripeClient` calls it; other code rarely needs to. */
export function recordStripeRequest(method: string, resource: string, outcome: StripeOutcome, seconds: number): void {
  const resourceLabel = boundedLabel(resource);
  const outcomeLabel = oneOf(STRIPE_OUTCOMES, outcome);
  stripeRequestsTotal.inc({ method: httpMethodLabel(method), resource: resourceLabel, outcome: outcomeLabel });
  stripeRequestDuration.observe({ resource: resourceLabel, outcome: outcomeLabel }, nonNegative(seconds));
}

function oneOf<T extends string>(allowed: readonly T[], value: string): T | typeof OTHER_LABEL {
  return (allowed as readonly string[]).includes(value) ? (value as T) : OTHER_LABEL;
}

/** Lower-case words of at most 48 characters pass; anything else (an id, free text) becomes `other`. */
export function boundedLabel(value: string): string {
  return LABEL_VALUE_PATTERN.test(value) ? value : OTHER_LABEL;
}

const HTTP_METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH'];

function httpMethodLabel(method: string): string {
  const upper = method.toUpperCase();

  return HTTP_METHODS.includes(upper) ? upper : OTHER_LABEL;
}

function nonNegative(seconds: number): number {
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}
