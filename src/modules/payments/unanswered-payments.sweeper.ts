import { RequestContext } from '@app/common/context/request-context';
import { DomainError } from '@app/common/errors/domain-error';
import { describeError } from '@app/common/logging/error-description';
import { JOB_SWEEP_UNANSWERED_PAYMENTS, QUEUE_PAYMENTS } from '@app/common/queues/queue-names';
import { RecurringJob } from '@app/common/queues/recurring-job';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import type Stripe from 'stripe';
import { PAYMENT_ID_METADATA_KEY } from './payment-input';
import { PaymentObservation, observeIntent } from './payment-observation';
import { PaymentSettlementService } from './payment-settlement.service';
import { PaymentsRepository } from './payments.repository';

export const UNANSWERED_PAYMENT_SWEEP_SCHEDULER_ID = 'sweep-unanswered-payments';
export const UNANSWERED_PAYMENT_SWEEP_EVERY_MS = 5 * 60_000;
/**
 * Payments younger than this are left alone. A create request that stripe-node
 * still retries (three tries of at most 20 s each by default) or a webhook on its way settles them first.
 */
export const UNANSWERED_PAYMENT_GRACE_MS = 10 * 60_000;
/** How far around the payment's creation its PaymentIntent is looked for: clocks and Stripe's queue may differ by minutes. */
const SEARCH_WINDOW_BEFORE_SECONDS = 5 * 60;
const SEARCH_WINDOW_AFTER_SECONDS = 15 * 60;
const SWEEP_BATCH_SIZE = 100;
/** The failure code of a payment Stripe never created, the same code its 502 carried. */
export const NEVER_CREATED_FAILURE_CODE = 'stripe_unavailable';

export interface UnansweredPaymentsSweepResult {
  found: number;
  failed: number;
  skipped: number;
}

/**
 * Settles payments whose create request got no response from Stripe (a timeout
 * or a 5xx, so the client got a 502) and that no retry with the same Idempotency-Key
 * finished. After the grace period, the sweep lists the tenant's
 * PaymentIntents created around the payment and looks for the payment's id in
 * their metadata. A PaymentIntent found is applied as a webhook would be.
 * Without one, Stripe never created it, so the payment fails with
 * `stripe_unavailable`, and no card was charged. The status rules
 * (payment-status.ts) let a failed payment still move to succeeded, for a
 * PaymentIntent that Stripe reports later after a retry with the key.
 */
@Injectable()
export class UnansweredPaymentsSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UnansweredPaymentsSweeper.name);
  private readonly recurring: RecurringJob;

  constructor(
    @InjectQueue(QUEUE_PAYMENTS) queue: Queue,
    private readonly context: RequestContext,
    private readonly payments: PaymentsRepository,
    private readonly settlement: PaymentSettlementService,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
  ) {
    this.recurring = new RecurringJob(
      queue,
      { schedulerId: UNANSWERED_PAYMENT_SWEEP_SCHEDULER_ID, everyMs: UNANSWERED_PAYMENT_SWEEP_EVERY_MS, jobName: JOB_SWEEP_UNANSWERED_PAYMENTS, label: 'unanswered payments sweeper' },
      this.logger,
    );
  }

  onApplicationBootstrap(): void {
    this.recurring.start();
  }

  onApplicationShutdown(): void {
    this.recurring.stop();
  }

  /** Settles every unanswered payment older than `graceMs`, each inside its tenant. */
  async sweep(graceMs = UNANSWERED_PAYMENT_GRACE_MS): Promise<UnansweredPaymentsSweepResult> {
    const unanswered = await this.payments.findUnanswered(new Date(Date.now() - graceMs), SWEEP_BATCH_SIZE);
    const result: UnansweredPaymentsSweepResult = { found: 0, failed: 0, skipped: 0 };
    for (const { tenantId, paymentId } of unanswered) {
      try {
        const outcome = await this.context.runAsTenant(tenantId, () => this.settle(tenantId, paymentId));
        result[outcome]++;
      } catch (error) {
        // One tenant's Stripe outage must not stop the other tenants' payments. The next sweep tries again.
        result.skipped++;
        this.logger.warn({ tenantId, paymentId, err: describeError(error) }, 'Could not settle an unanswered payment, so the next sweep tries again');
      }
    }

    return result;
  }

  private async settle(tenantId: string, paymentId: string): Promise<keyof UnansweredPaymentsSweepResult> {
    const payment = await this.payments.findById(tenantId, paymentId);
    if (!payment || payment.status !== 'processing' || payment.stripePaymentIntentId !== null) {
      return 'skipped';
    }

    let client: TenantStripeClient;
    try {
      client = await this.stripeConnection.getClient(tenantId);
    } catch (error) {
      if (error instanceof DomainError) {
        // Without working keys Stripe cannot be asked, so the payment waits for the tenant to connect again.
        this.logger.warn({ tenantId, paymentId, code: error.code }, 'Unanswered payment waits for a working Stripe connection');

        return 'skipped';
      }
      throw error;
    }

    if ((client.mode === 'live') !== payment.livemode) {
      // The keys changed mode since the sweep's query, and the other mode cannot show the payment's PaymentIntent.
      return 'skipped';
    }

    const intent = await this.findIntent(client, paymentId, Math.floor(payment.createdAt.getTime() / 1000));
    const observation = intent ? observeIntent(intent, null, true) : neverCreated();
    await this.payments.transaction(async (manager) => {
      const locked = await this.payments.lockById(manager, tenantId, paymentId);
      if (locked) {
        await this.settlement.apply(manager, locked, observation);
      }
    });
    this.logger.log(
      { tenantId, paymentId, paymentIntentId: intent?.id ?? null, status: observation.status },
      intent ? 'Unanswered payment settled from the PaymentIntent found in Stripe' : 'Unanswered payment failed: Stripe never created its PaymentIntent',
    );

    return intent ? 'found' : 'failed';
  }

  /** Returns the PaymentIntent whose metadata names the payment, listing the ones created around `createdAt` (Unix seconds). */
  private async findIntent(client: TenantStripeClient, paymentId: string, createdAt: number): Promise<Stripe.PaymentIntent | null> {
    const intents = client.stripe.paymentIntents.list({
      created: { gte: createdAt - SEARCH_WINDOW_BEFORE_SECONDS, lte: createdAt + SEARCH_WINDOW_AFTER_SECONDS },
      limit: 100,
      expand: ['data.latest_charge'],
    });
    for await (const intent of intents) {
      if (intent.metadata?.[PAYMENT_ID_METADATA_KEY] === paymentId) {
        return intent;
      }
    }

    return null;
  }
}

/** Builds the observation of a payment that Stripe has no PaymentIntent for. */
function neverCreated(): PaymentObservation {
  return {
    status: 'failed',
    paymentIntentId: null,
    chargeId: null,
    receiptUrl: null,
    clientSecret: null,
    nextAction: null,
    failureCode: NEVER_CREATED_FAILURE_CODE,
    declineCode: null,
    eventCreated: null,
    succeededAt: null,
    authoritative: true,
  };
}
