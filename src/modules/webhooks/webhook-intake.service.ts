import { SmartBatcher } from '@app/common/batching/smart-batcher';
import { RequestContext } from '@app/common/context/request-context';
import { DomainError, notFound } from '@app/common/errors/domain-error';
import { isDatabaseUnavailable } from '@app/common/errors/problem-details.filter';
import { describeError } from '@app/common/logging/error-description';
import { RepeatedErrorLog } from '@app/common/logging/repeated-error-log';
import { recordSignatureFailure, recordWebhookSignatureFailureSpike } from '@app/common/metrics/metrics';
import { QueueConnectionState, withTimeout } from '@app/common/queues/queue-connection-state';
import { JOB_PROCESS_WEBHOOK_EVENT, QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { SIGNATURE_TOLERANCE_SECONDS, SignatureFailure, verifyStripeSignature } from '@app/common/stripe/webhook-signature';
import { Clock } from '@app/common/time/clock';
import { durationText } from '@app/common/time/seconds-text';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, WebhookEndpointResolution } from '@app/contracts/stripe-connection.contracts';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { ProcessWebhookEventJobData, webhookEventJobId } from './process-webhook-event.job';
import { StripeEventEnvelope, parseStripeEventEnvelope } from './stripe-event-envelope';
import { WebhookVerifiedBy } from './webhook-event.entity';
import { NewWebhookEvent, WebhookEventInsertResult, WebhookEventsRepository, isDataException } from './webhook-events.repository';
import { WebhookSignatureFailureLimiter, spikeThreshold } from './webhook-signature-failure.limiter';

/**
 * Maximum time intake waits for BullMQ to accept a job while the connection
 * reports ready (a Redis that accepts connections but does not respond). The
 * row is stored by then, so a timeout only leaves it to the sweeper.
 */
const ENQUEUE_TIMEOUT_MS = 500;

/**
 * Limits of the intake's batches. Concurrent deliveries of one tenant share
 * one INSERT, and concurrent new events share one BullMQ addBulk, because a
 * round trip per delivery costs more CPU (in socket writes) than the rest of
 * the intake. Up to `maxConcurrent` batches run at once, so the pool and
 * Redis stay busy while the next batch fills.
 */
const INSERT_BATCH = { maxSize: 100, maxConcurrent: 2 };
const ENQUEUE_BATCH = { maxSize: 200, maxConcurrent: 2 };

/**
 * Retry-After of a 503 for an endpoint secret that cannot be decrypted. Mending
 * it takes a deployment (the encryption key back) or an operator (the secret
 * set again), not seconds.
 */
const UNDECRYPTABLE_SECRET_RETRY_AFTER_SECONDS = 60;

interface EnqueueRequest {
  tenantId: string;
  webhookEventId: string;
  stripeCreated: number;
}

/** Outcome of a verified delivery: stored, or already in the inbox. */
export type WebhookIntakeResult = 'stored' | 'duplicate';

const SIGNATURE_FAILURE_DETAILS: Record<SignatureFailure, string> = {
  missing_header: 'The Stripe-Signature header is missing.',
  malformed_header: 'The Stripe-Signature header has no timestamp or no v1 signature.',
  timestamp_out_of_tolerance: 'The Stripe-Signature timestamp is more than 300 seconds from now.',
  no_matching_signature: 'No v1 signature matches a signing secret of this endpoint.',
};

/**
 * Webhook intake: the least work that makes a delivery safe. Resolve the URL's
 * tenant, verify the signature over the raw body, insert into the inbox
 * (duplicates are dropped by the unique key), enqueue a job for new rows. It
 * returns without waiting for processing. While Redis is away it does not
 * wait for it: the row stays `received` and the sweeper enqueues it later.
 */
@Injectable()
export class WebhookIntakeService {
  private readonly logger = new Logger(WebhookIntakeService.name);
  private readonly skippedEnqueues = new RepeatedErrorLog(this.logger, 'Redis is unavailable; stored webhook events wait for the sweeper');
  private readonly queueConnection: QueueConnectionState;
  private readonly inserts = new SmartBatcher<Omit<NewWebhookEvent, 'tenantId'>, WebhookEventInsertResult>(
    // The batch runs in the scope of its own tenant, whichever delivery opened it.
    (tenantId, events) => this.context.runAsTenant(tenantId, () => this.events.insertBatch(tenantId, events)),
    INSERT_BATCH,
  );
  // Jobs of every tenant share one addBulk: Redis keeps no tenant scope.
  private readonly enqueues = new SmartBatcher<EnqueueRequest, void>((_key, requests) => this.addJobs(requests), ENQUEUE_BATCH);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
    @InjectQueue(QUEUE_WEBHOOK_EVENTS) private readonly queue: Queue<ProcessWebhookEventJobData>,
    private readonly clock: Clock,
    private readonly events: WebhookEventsRepository,
    private readonly failureLimiter: WebhookSignatureFailureLimiter,
    private readonly context: RequestContext,
  ) {
    this.queueConnection = new QueueConnectionState(queue);
  }

  /** Returns `duplicate` when the inbox already had the event, so intake metrics can tell redeliveries apart. */
  async receive(endpointToken: string, rawBody: Buffer, signatureHeader: string | undefined): Promise<WebhookIntakeResult> {
    // The URL's token is how a delivery finds its tenant; everything after that runs in the tenant found.
    const endpoint = await this.resolve(endpointToken);

    return this.context.runAsTenant(endpoint.tenantId, () => this.receiveForTenant(endpointToken, endpoint, rawBody, signatureHeader), this.context.correlationId);
  }

  private async receiveForTenant(
    endpointToken: string,
    endpoint: WebhookEndpointResolution,
    rawBody: Buffer,
    signatureHeader: string | undefined,
  ): Promise<WebhookIntakeResult> {
    const { verifiedBy, signedAt } = await this.verify(endpointToken, endpoint, rawBody, signatureHeader);

    const event = parseStripeEventEnvelope(rawBody);
    if (!event) {
      this.logger.warn({ tenantId: endpoint.tenantId, reason: 'not_a_stripe_event', verifiedBy }, 'Rejected a signed webhook delivery');
      throw new DomainError('signature_invalid', 'The body is not a Stripe event: it needs an id starting with evt_, a type, created and livemode.');
    }
    // Stripe signs an event after creating it. A later `created` would also file the event in the
    // default partition, where a month's events block the creation of that month's partition.
    // The signature's time may run ahead of this clock by the tolerance, so the earlier of the two counts.
    const latestCreated = Math.min(signedAt, this.clock.nowSeconds()) + SIGNATURE_TOLERANCE_SECONDS;
    if (event.created > latestCreated) {
      this.logger.warn(
        { tenantId: endpoint.tenantId, reason: 'created_in_future', stripeEventId: event.id, created: event.created, signedAt, verifiedBy },
        'Rejected a signed webhook delivery',
      );
      throw new DomainError(
        'signature_invalid',
        `The body is not a Stripe event: its created time ${event.created} is more than ${SIGNATURE_TOLERANCE_SECONDS} seconds after its signature's time ${signedAt} or after now, and Stripe signs an event after creating it.`,
      );
    }

    const webhookEventId = await this.store(endpoint.tenantId, event, rawBody, verifiedBy);
    if (webhookEventId === null) {
      this.logger.debug({ tenantId: endpoint.tenantId, stripeEventId: event.id, type: event.type }, 'Duplicate webhook delivery acknowledged');

      return 'duplicate';
    }

    await this.enqueue(endpoint.tenantId, webhookEventId, event);

    return 'stored';
  }

  /** Find the URL's tenant and secrets. Any failure other than a domain error becomes a 503, so Stripe retries. */
  private async resolve(endpointToken: string): Promise<WebhookEndpointResolution> {
    let endpoint: WebhookEndpointResolution | null;
    try {
      endpoint = await this.stripeConnection.resolveWebhookEndpoint(endpointToken);
    } catch (error) {
      if (error instanceof DomainError) {
        throw error;
      }

      this.logger.error(
        { databaseUnavailable: isDatabaseUnavailable(error), err: describeError(error) },
        'Could not resolve a webhook endpoint token; answering 503 so Stripe retries',
      );
      throw serviceUnavailable(error);
    }

    if (!endpoint) {
      throw notFound('webhook endpoint');
    }

    return endpoint;
  }

  /**
   * Try the endpoint's own secrets, then the platform secrets. A failure is
   * counted against the endpoint's failed-signature limit and rejected with 429
   * once the limit is passed, else 400 signature_invalid. A delivery that
   * verifies is never limited. When no secret matches and a stored endpoint
   * secret cannot be decrypted, the delivery may be valid, so it gets 503
   * without being counted. Returns the kind of secret that matched and the
   * signature's timestamp.
   */
  private async verify(
    endpointToken: string,
    endpoint: WebhookEndpointResolution,
    rawBody: Buffer,
    signatureHeader: string | undefined,
  ): Promise<{ verifiedBy: WebhookVerifiedBy; signedAt: number }> {
    const secrets = [...endpoint.endpointSecrets, ...this.config.platformWebhookSecrets];
    const check = verifyStripeSignature(rawBody, signatureHeader, secrets, this.clock.nowSeconds());
    if (check.ok) {
      return { verifiedBy: check.secretIndex < endpoint.endpointSecrets.length ? 'endpoint' : 'platform', signedAt: check.signedAt };
    }
    // A missing header or a stale timestamp fails with any secret, so only a signature that matched none may be the deployment's fault.
    if (check.reason === 'no_matching_signature' && endpoint.undecryptableSecrets.length > 0) {
      this.logger.error(
        { tenantId: endpoint.tenantId, endpointToken, undecryptableSecrets: endpoint.undecryptableSecrets },
        'Could not verify a webhook delivery because a stored endpoint signing secret cannot be decrypted; answering 503 so Stripe retries',
      );
      throw new DomainError(
        'service_unavailable',
        "This endpoint's signing secret cannot be decrypted on the server, so the signature cannot be checked. Stripe retries the delivery.",
        { headers: { 'Retry-After': String(UNDECRYPTABLE_SECRET_RETRY_AFTER_SECONDS) } },
      );
    }

    recordSignatureFailure(check.reason);
    const failures = await this.failureLimiter.recordFailure(endpointToken);
    // The header and the body are never logged: the header carries signatures and the body customer data.
    this.logger.warn(
      {
        tenantId: endpoint.tenantId,
        reason: check.reason,
        endpointSecrets: endpoint.endpointSecrets.length,
        platformSecrets: this.config.platformWebhookSecrets.length,
        rateLimited: failures.limited,
      },
      'Rejected a webhook delivery: signature check failed',
    );
    if (failures.spike) {
      recordWebhookSignatureFailureSpike();
      this.logger.warn(
        { tenantId: endpoint.tenantId, reason: check.reason, failuresInWindow: spikeThreshold(this.config.rateLimitWebhookFailures.limit) },
        'Webhook signature failures are spiking on this endpoint; its signing secret is probably out of sync with Stripe',
      );
    }
    if (failures.limited) {
      const { limit, windowSeconds } = this.config.rateLimitWebhookFailures;
      const detail = `More than ${limit} failed signatures on this endpoint in ${durationText(windowSeconds)}. Try again in ${durationText(failures.retryAfterSeconds)}.`;
      throw new DomainError('rate_limited', detail, {
        headers: { 'Retry-After': String(failures.retryAfterSeconds) },
      });
    }

    throw new DomainError('signature_invalid', SIGNATURE_FAILURE_DETAILS[check.reason]);
  }

  /** Insert into the inbox, batched with concurrent deliveries of the tenant. Returns the new row's id, or null for a duplicate. */
  private async store(tenantId: string, event: StripeEventEnvelope, rawBody: Buffer, verifiedBy: WebhookVerifiedBy): Promise<string | null> {
    const result = await this.inserts.submit(tenantId, {
      stripeEventId: event.id,
      type: event.type,
      livemode: event.livemode,
      apiVersion: event.apiVersion,
      stripeCreated: event.created,
      rawBody,
      verifiedBy,
    });
    if ('id' in result) {
      return result.id;
    }

    const { error } = result;
    if (isDataException(error)) {
      // JSON that JavaScript accepts but jsonb does not, such as a \u0000 escape.
      this.logger.warn({ tenantId, stripeEventId: event.id, type: event.type, err: describeError(error) }, 'Rejected a webhook event PostgreSQL cannot store as jsonb');
      throw new DomainError('signature_invalid', 'The body is not a Stripe event: PostgreSQL rejects it as JSON.');
    }

    this.logger.error(
      { tenantId, stripeEventId: event.id, type: event.type, databaseUnavailable: isDatabaseUnavailable(error), err: describeError(error) },
      'Could not store a webhook event; answering 503 so Stripe retries',
    );
    throw serviceUnavailable(error);
  }

  /** Add the row's job, unless the Redis connection is down: then the row waits for the sweeper and the response does not wait. */
  private async enqueue(tenantId: string, webhookEventId: string, event: StripeEventEnvelope): Promise<void> {
    const jobId = webhookEventJobId(webhookEventId);
    if (!this.queueConnection.ready) {
      this.skippedEnqueues.record(new Error(`Redis connection not ready; job ${jobId} of tenant ${tenantId} not added`));

      return;
    }

    try {
      await this.enqueues.submit('', { tenantId, webhookEventId, stripeCreated: event.created });
    } catch (error) {
      this.logger.warn(
        { tenantId, webhookEventId, stripeEventId: event.id, type: event.type, jobId, err: describeError(error) },
        'Could not enqueue a stored webhook event; the sweeper enqueues it once Redis is back',
      );
    }
  }

  /** Add the jobs of concurrent new events in one addBulk. A failure or timeout rejects every request of the batch. */
  private async addJobs(requests: EnqueueRequest[]): Promise<void[]> {
    const jobs = requests.map(({ tenantId, webhookEventId, stripeCreated }) => ({
      name: JOB_PROCESS_WEBHOOK_EVENT,
      data: { webhookEventId, tenantId, generation: 0, stripeCreated },
      opts: { jobId: webhookEventJobId(webhookEventId) },
    }));
    await withTimeout(this.queue.addBulk(jobs), ENQUEUE_TIMEOUT_MS, 'Adding the jobs');

    return requests.map(() => undefined);
  }
}

function serviceUnavailable(cause: unknown): DomainError {
  return new DomainError('service_unavailable', 'The event could not be stored. Stripe retries the delivery.', {
    headers: { 'Retry-After': '5' },
    cause,
  });
}
