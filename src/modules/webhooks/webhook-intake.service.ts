import { DomainError, notFound } from '@app/common/errors/domain-error';
import { isDatabaseUnavailable } from '@app/common/errors/problem-details.filter';
import { JOB_PROCESS_WEBHOOK_EVENT, QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { SignatureFailure, verifyStripeSignature } from '@app/common/stripe/webhook-signature';
import { Clock } from '@app/common/time/clock';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, WebhookEndpointResolution } from '@app/contracts/stripe-connection.contracts';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { describeError } from '@app/common/logging/error-description';
import { ProcessWebhookEventJobData, webhookEventJobId } from './process-webhook-event.job';
import { StripeEventEnvelope, parseStripeEventEnvelope } from './stripe-event-envelope';
import { WebhookVerifiedBy } from './webhook-event.entity';
import { WebhookEventsRepository } from './webhook-events.repository';

/**
 * How long intake waits for BullMQ to accept a job. The producer connection
 * rejects commands at once while Redis is down, but a connection that has not
 * been ready since start-up makes `add()` wait for it instead.
 */
const ENQUEUE_TIMEOUT_MS = 1_000;

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
 * returns once the job is added, without waiting for processing, and a failed
 * enqueue leaves the row `received` for the sweeper.
 */
@Injectable()
export class WebhookIntakeService {
  private readonly logger = new Logger(WebhookIntakeService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
    @InjectQueue(QUEUE_WEBHOOK_EVENTS) private readonly queue: Queue<ProcessWebhookEventJobData>,
    private readonly clock: Clock,
    private readonly events: WebhookEventsRepository,
  ) {}

  async receive(endpointToken: string, rawBody: Buffer, signatureHeader: string | undefined): Promise<void> {
    const endpoint = await this.resolve(endpointToken);

    // TODO: limit failed signatures per endpoint token (RATE_LIMIT_WEBHOOK_FAILURES,
    // 429 rate_limited before the signature check); failed deliveries are unlimited for now.
    const verifiedBy = this.verify(endpoint, rawBody, signatureHeader);

    const event = parseStripeEventEnvelope(rawBody);
    if (!event) {
      this.logger.warn({ tenantId: endpoint.tenantId, reason: 'not_a_stripe_event', verifiedBy }, 'Rejected a signed webhook delivery');
      throw new DomainError('signature_invalid', 'The body is not a Stripe event: it needs an id starting with evt_, a type, created and livemode.');
    }

    const webhookEventId = await this.store(endpoint.tenantId, event, rawBody, verifiedBy);
    if (webhookEventId === null) {
      this.logger.debug({ tenantId: endpoint.tenantId, stripeEventId: event.id, type: event.type }, 'Duplicate webhook delivery acknowledged');

      return;
    }

    await this.enqueue(endpoint.tenantId, webhookEventId, event);
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

  /** Try the endpoint's own secrets, then the platform secrets; throw signature_invalid when none matches. */
  private verify(endpoint: WebhookEndpointResolution, rawBody: Buffer, signatureHeader: string | undefined): WebhookVerifiedBy {
    const secrets = [...endpoint.endpointSecrets, ...this.config.platformWebhookSecrets];
    const check = verifyStripeSignature(rawBody, signatureHeader, secrets, this.clock.nowSeconds());
    if (check.ok) {
      return check.secretIndex < endpoint.endpointSecrets.length ? 'endpoint' : 'platform';
    }

    // The header and the body are never logged: the header carries signatures and the body customer data.
    this.logger.warn(
      {
        tenantId: endpoint.tenantId,
        reason: check.reason,
        endpointSecrets: endpoint.endpointSecrets.length,
        platformSecrets: this.config.platformWebhookSecrets.length,
      },
      'Rejected a webhook delivery: signature check failed',
    );
    throw new DomainError('signature_invalid', SIGNATURE_FAILURE_DETAILS[check.reason]);
  }

  /** Insert into the inbox. Returns the new row's id, or null for a duplicate. */
  private async store(tenantId: string, event: StripeEventEnvelope, rawBody: Buffer, verifiedBy: WebhookVerifiedBy): Promise<string | null> {
    try {
      return await this.events.insertIfNew({
        tenantId,
        stripeEventId: event.id,
        type: event.type,
        livemode: event.livemode,
        apiVersion: event.apiVersion,
        stripeCreated: event.created,
        rawBody,
        verifiedBy,
      });
    } catch (error) {
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
  }

  private async enqueue(tenantId: string, webhookEventId: string, event: StripeEventEnvelope): Promise<void> {
    const jobId = webhookEventJobId(webhookEventId);
    try {
      await withTimeout(this.queue.add(JOB_PROCESS_WEBHOOK_EVENT, { webhookEventId, tenantId }, { jobId }), ENQUEUE_TIMEOUT_MS);
    } catch (error) {
      this.logger.warn(
        { tenantId, webhookEventId, stripeEventId: event.id, type: event.type, jobId, err: describeError(error) },
        'Could not enqueue a stored webhook event; the sweeper enqueues it once Redis is back',
      );
    }
  }
}

function serviceUnavailable(cause: unknown): DomainError {
  return new DomainError('service_unavailable', 'The event could not be stored. Stripe retries the delivery.', {
    headers: { 'Retry-After': '5' },
    cause,
  });
}

/** SQLSTATE class 22: the value was rejected, not the database unavailable. */
function isDataException(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown } }).driverError;
  const code = driverError?.code ?? (error as { code?: unknown }).code;

  return typeof code === 'string' && code.startsWith('22');
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms`)), timeoutMs);
  });

  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
