import { registerQueues } from '@app/common/queues/logged-queue';
import { QUEUE_DOMAIN_EVENTS, QUEUE_INVOICES, QUEUE_MAINTENANCE, QUEUE_PAYMENTS, QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { Module } from '@nestjs/common';
import { DatabaseGaugesCollector } from './database-gauges.collector';
import { QueueGaugesCollector } from './queue-gauges.collector';

/**
 * The gauges /metrics computes at scrape time (inbox by status, queue depth,
 * outbox lag, Stripe connections by status), for every role. The counters and
 * histograms live in libs/common/src/metrics and are recorded where things
 * happen. The queues are registered here again, which gives this module its
 * own producer-side Queue objects and never starts a worker.
 */
@Module({
  imports: [registerQueues(...[QUEUE_WEBHOOK_EVENTS, QUEUE_DOMAIN_EVENTS, QUEUE_INVOICES, QUEUE_PAYMENTS, QUEUE_MAINTENANCE].map((name) => ({ name })))],
  providers: [DatabaseGaugesCollector, QueueGaugesCollector],
})
export class ObservabilityModule {}
