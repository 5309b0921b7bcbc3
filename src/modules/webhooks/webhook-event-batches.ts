import { MicroBatcher, MicroBatcherOptions } from '@app/common/batching/micro-batcher';
import { RequestContext } from '@app/common/context/request-context';
import { ConnectionView, StripeConnectionFacade } from '@app/contracts/stripe-connection.contracts';
import { ClaimedWebhookEvent, WebhookEventClaim, WebhookEventOutcome, WebhookEventsRepository } from './webhook-events.repository';

/**
 * Limits of the worker's batches. A batch waits at most 2 ms for more jobs,
 * which is short next to one job's handler transaction. It contains at most
 * 50 rows, which bounds the arrays one statement carries.
 */
export const WEBHOOK_BATCH_LIMITS: MicroBatcherOptions = { maxSize: 50, maxWaitMs: 2 };

/**
 * The webhook worker's per-event database steps, shared between the jobs of
 * one tenant that run at the same time. Per batch instead of per event, it
 * runs one claim statement, one outcome statement, one `last_event_at` update
 * and one read of the Stripe connection. Each job still awaits its own row
 * and its own outcome. A batch runs as its tenant, so row-level security
 * scopes every statement to that tenant's rows. A failed statement fails each
 * job of its batch, and BullMQ retries each job on its own.
 */
export class WebhookEventBatches {
  private readonly claims: MicroBatcher<WebhookEventClaim, ClaimedWebhookEvent | null>;
  private readonly outcomes: MicroBatcher<WebhookEventOutcome, void>;
  private readonly deliveryTimes: MicroBatcher<Date, void>;
  private readonly connections: MicroBatcher<void, ConnectionView>;

  constructor(
    events: WebhookEventsRepository,
    stripeConnection: StripeConnectionFacade,
    context: RequestContext,
    limits: MicroBatcherOptions = WEBHOOK_BATCH_LIMITS,
  ) {
    const asTenant =
      <Request, Result>(run: (tenantId: string, requests: Request[]) => Promise<Result[]>) =>
      (tenantId: string, requests: Request[]) =>
        context.runAsTenant(tenantId, () => run(tenantId, requests));

    this.claims = new MicroBatcher(
      asTenant((tenantId, claims: WebhookEventClaim[]) => events.claimBatch(tenantId, claims)),
      limits,
    );
    this.outcomes = new MicroBatcher(
      asTenant(async (tenantId, outcomes: WebhookEventOutcome[]) => {
        await events.recordOutcomes(tenantId, outcomes);

        return outcomes.map(() => undefined);
      }),
      limits,
    );
    // The latest arrival of the batch is the one that counts: the update keeps the greater time.
    this.deliveryTimes = new MicroBatcher(
      asTenant(async (tenantId, times: Date[]) => {
        const latest = new Date(Math.max(...times.map((time) => time.getTime())));
        await stripeConnection.recordWebhookEventReceived(tenantId, latest);

        return times.map(() => undefined);
      }),
      limits,
    );
    // Every job of a batch submitted its request before the read started, so each gets the connection as it was after its claim.
    this.connections = new MicroBatcher(
      asTenant(async (tenantId, requests: void[]) => {
        const connection = await stripeConnection.getConnection(tenantId);

        return requests.map(() => connection);
      }),
      limits,
    );
  }

  /** Claim a row for its job; null when the row is not this job's to process (see WebhookEventsRepository.claimBatch). */
  claim(tenantId: string, claim: WebhookEventClaim): Promise<ClaimedWebhookEvent | null> {
    return this.claims.submit(tenantId, claim);
  }

  recordOutcome(event: ClaimedWebhookEvent, status: 'processed' | 'ignored', reason: string | null): Promise<void> {
    return this.outcomes.submit(event.tenantId, { id: event.id, generation: event.generation, status, reason });
  }

  /** Move the tenant's `last_event_at` to at least `receivedAt`. */
  recordDeliveryTime(tenantId: string, receivedAt: Date): Promise<void> {
    return this.deliveryTimes.submit(tenantId, receivedAt);
  }

  /** Read the tenant's Stripe connection, no earlier than this call. */
  connectionOf(tenantId: string): Promise<ConnectionView> {
    return this.connections.submit(tenantId, undefined);
  }
}
