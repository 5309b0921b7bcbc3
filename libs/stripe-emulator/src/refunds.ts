import type Stripe from 'stripe';
import { presentCharge } from './charges';
import { formatAmount } from './currencies';
import { invalidRequest } from './errors';
import { AUTOMATIC_REQUEST, type EventRequest } from './events';
import type { FormObject } from './form-decoding';
import { newId, nowSeconds, randomAlphanumeric } from './ids';
import { checkExpandPaths, expandFields, expandList, paginate, type Expanders, type ListObject } from './object-store';
import { expandParam, initialMetadata, listParams, mergeMetadata, param, parseParams } from './params';
import { presentIntent } from './payment-intents';
import type { ApiContext, OperationContext } from './state';

export type RefundOutcome = 'succeeded' | 'failed';

export interface RefundRequest {
  charge: Stripe.Charge;
  amount?: number;
  reason?: Stripe.Refund.Reason;
  metadata?: Record<string, string> | null;
  /**
   * `failed`: the refund stays pending, then fails after the configured delay.
   * `succeeded`: the refund follows the charge's test card (see `RefundBehavior`).
   */
  outcome: RefundOutcome;
}

/** The status a new refund starts with, and the one it turns into after `refundFailureDelayMs`, if any. */
type RefundCourse = { initial: 'pending' | 'succeeded'; later: 'succeeded' | 'failed' | null };

function refundCourse(ctx: OperationContext, request: RefundRequest): RefundCourse {
  if (request.outcome === 'failed') {
    return { initial: 'pending', later: 'failed' };
  }

  const paymentMethod = request.charge.payment_method;
  const behavior = paymentMethod ? ctx.state.testCards.get(paymentMethod)?.refunds : undefined;
  if (behavior === 'pending_then_succeeded') {
    return { initial: 'pending', later: 'succeeded' };
  }
  if (behavior === 'succeeded_then_failed') {
    return { initial: 'succeeded', later: 'failed' };
  }

  return { initial: 'succeeded', later: null };
}

const EXPANDABLE = ['charge', 'payment_intent'];

const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;

function refundExpanders(ctx: OperationContext): Expanders {
  return {
    charge: (id) => presentCharge(ctx, ctx.state.charges.get(ctx.scope, id)),
    payment_intent: (id) => presentIntent(ctx, ctx.state.paymentIntents.get(ctx.scope, id)),
  };
}

function presentRefund(ctx: OperationContext, refund: Stripe.Refund, expand: readonly string[] = []): Stripe.Refund {
  return expandFields(structuredClone(refund), expand, refundExpanders(ctx));
}

/**
 * Refunds all or part of a charge, raising Stripe's 400s for unpaid, fully refunded and
 * over-refunded charges. Emits `refund.created` and `charge.refunded`, then `refund.updated`
 * when the card network's reference number arrives. A refund that starts pending (outcome
 * `failed`, or the `pm_card_pendingRefund` card) fails or succeeds after
 * `refundFailureDelayMs`. A refund of the `pm_card_refundFail` card succeeds first and fails
 * after that delay.
 */
export function issueRefund(ctx: OperationContext, request: RefundRequest): Stripe.Refund {
  const { charge } = request;
  if (!charge.paid) {
    throw invalidRequest(`Charge ${charge.id} failed, so it cannot be refunded.`, { code: 'charge_not_refundable' });
  }
  if (!charge.captured) {
    throw invalidRequest(
      `Charge ${charge.id} has not been captured. Cancel its PaymentIntent to release the authorization instead.`,
      { code: 'charge_not_refundable' },
    );
  }
  const remaining = charge.amount - charge.amount_refunded;
  if (remaining <= 0) {
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`, { code: 'charge_already_refunded' });
  }
  const amount = request.amount ?? remaining;
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${formatAmount(amount, charge.currency)}) is greater than unrefunded amount on charge ` +
        `(${formatAmount(remaining, charge.currency)})`,
      { code: 'amount_too_large', param: 'amount' },
    );
  }

  const course = refundCourse(ctx, request);
  const pending = course.initial === 'pending';
  const refund: Stripe.Refund = {
    id: newId('re'),
    object: 'refund',
    amount,
    application: null,
    balance_transaction: newId('txn'),
    charge: charge.id,
    created: nowSeconds(),
    currency: charge.currency,
    customer: charge.customer,
    customer_account: null,
    destination_details: {
      card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' },
      type: 'card',
    },
    metadata: initialMetadata(request.metadata),
    payment_intent: charge.payment_intent,
    payment_method: charge.payment_method,
    ...(pending ? { pending_reason: 'processing' as const } : {}),
    reason: request.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: pending ? 'pending' : 'succeeded',
    transfer_reversal: null,
  };
  const previousCharge = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded === charge.amount;
  ctx.state.refunds.insert(ctx.scope, refund);
  ctx.state.emit(ctx.scope, 'refund.created', refund, ctx.eventRequest);
  ctx.state.emit(ctx.scope, 'charge.refunded', charge, ctx.eventRequest, previousCharge);

  if (!pending) {
    addNetworkReference(ctx, refund, ctx.eventRequest);
  }
  if (course.later === 'failed') {
    ctx.state.timers.schedule(ctx.state.settings.refundFailureDelayMs, () => failRefund(ctx, refund, charge));
  } else if (course.later === 'succeeded') {
    ctx.state.timers.schedule(ctx.state.settings.refundFailureDelayMs, () => succeedPendingRefund(ctx, refund));
  }
  return refund;
}

/** Records the card network's reference number on a succeeded refund and emits `refund.updated`. */
function addNetworkReference(ctx: OperationContext, refund: Stripe.Refund, request: EventRequest): void {
  const previousDetails = structuredClone(refund.destination_details);
  refund.destination_details = {
    card: {
      reference: randomAlphanumeric(23).toUpperCase(),
      reference_status: 'available',
      reference_type: 'acquirer_reference_number',
      type: 'refund',
    },
    type: 'card',
  };
  ctx.state.emit(ctx.scope, 'refund.updated', refund, request, { destination_details: previousDetails });
}

/**
 * Completes a pending refund as the card network would: it succeeds and Stripe emits
 * `refund.updated` and `charge.refund.updated`, with no API request.
 */
function succeedPendingRefund(ctx: OperationContext, refund: Stripe.Refund): void {
  if (refund.status !== 'pending') {
    return;
  }
  const previous = { status: refund.status, pending_reason: refund.pending_reason };
  refund.status = 'succeeded';
  delete refund.pending_reason;
  ctx.state.emit(ctx.scope, 'refund.updated', refund, AUTOMATIC_REQUEST, previous);
  ctx.state.emit(ctx.scope, 'charge.refund.updated', refund, AUTOMATIC_REQUEST, previous);
  ctx.state.logger.info(`Refund ${refund.id} succeeded after being pending`);
}

/**
 * Fails a pending or succeeded refund as a card network would: the amount returns to the
 * charge and Stripe emits `refund.failed`, `refund.updated` and `charge.refund.updated`, with
 * no API request.
 */
function failRefund(ctx: OperationContext, refund: Stripe.Refund, charge: Stripe.Charge): void {
  const previous = { status: refund.status, pending_reason: refund.pending_reason, failure_reason: null };
  refund.status = 'failed';
  delete refund.pending_reason;
  refund.failure_reason = 'expired_or_canceled_card';
  refund.failure_balance_transaction = newId('txn');
  charge.amount_refunded -= refund.amount;
  charge.refunded = charge.amount_refunded === charge.amount;
  ctx.state.emit(ctx.scope, 'refund.failed', refund, AUTOMATIC_REQUEST, previous);
  ctx.state.emit(ctx.scope, 'refund.updated', refund, AUTOMATIC_REQUEST, previous);
  ctx.state.emit(ctx.scope, 'charge.refund.updated', refund, AUTOMATIC_REQUEST, previous);
  ctx.state.logger.info(`Refund ${refund.id} of charge ${charge.id} failed as requested`);
}

/**
 * Finds the charge a refund targets from `payment_intent` and/or `charge`, raising Stripe's
 * errors when neither is given, the intent has no successful charge or the two disagree.
 */
export function refundTarget(
  ctx: OperationContext,
  target: { paymentIntent?: string; charge?: string },
  params = { paymentIntent: 'payment_intent', charge: 'charge' },
): Stripe.Charge {
  if (target.paymentIntent === undefined && target.charge === undefined) {
    throw invalidRequest(
      `One of the following params should be provided for this request: ${params.paymentIntent} or ${params.charge}.`,
    );
  }
  let charge: Stripe.Charge | undefined;
  if (target.charge !== undefined) {
    charge = ctx.state.charges.get(ctx.scope, target.charge, params.charge);
  }
  if (target.paymentIntent !== undefined) {
    const intent = ctx.state.paymentIntents.get(ctx.scope, target.paymentIntent, params.paymentIntent);
    if (charge) {
      if (charge.payment_intent !== intent.id) {
        throw invalidRequest(`The charge ${charge.id} does not belong to the PaymentIntent ${intent.id}.`, {
          param: params.charge,
        });
      }
      return charge;
    }
    if (
      typeof intent.latest_charge !== 'string' ||
      (intent.status !== 'succeeded' && intent.status !== 'requires_capture')
    ) {
      throw invalidRequest(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, {
        param: params.paymentIntent,
      });
    }
    return ctx.state.charges.get(ctx.scope, intent.latest_charge, params.paymentIntent);
  }
  return charge as Stripe.Charge;
}

export function createRefund(ctx: ApiContext, input: FormObject): Stripe.Refund {
  const params = parseParams(input, {
    payment_intent: param.string(),
    charge: param.string(),
    amount: param.integer({ min: 1 }),
    reason: param.oneOf(REFUND_REASONS),
    metadata: param.metadata(),
    instructions_email: param.string(),
    refund_application_fee: param.boolean(),
    reverse_transfer: param.boolean(),
    expand: expandParam,
  });
  checkExpandPaths(params.expand, EXPANDABLE);
  const charge = refundTarget(ctx, { paymentIntent: params.payment_intent, charge: params.charge });
  const refund = issueRefund(ctx, {
    charge,
    amount: params.amount,
    reason: params.reason,
    metadata: params.metadata,
    outcome: 'succeeded',
  });
  return presentRefund(ctx, refund, params.expand);
}

export function retrieveRefund(ctx: ApiContext, input: FormObject, id: string): Stripe.Refund {
  const params = parseParams(input, { expand: expandParam });
  const refund = ctx.state.refunds.get(ctx.scope, id, 'refund');
  checkExpandPaths(params.expand, EXPANDABLE);
  return presentRefund(ctx, refund, params.expand);
}

export function updateRefund(ctx: ApiContext, input: FormObject, id: string): Stripe.Refund {
  const params = parseParams(input, { metadata: param.metadata(), expand: expandParam });
  const refund = ctx.state.refunds.get(ctx.scope, id, 'refund');
  checkExpandPaths(params.expand, EXPANDABLE);
  refund.metadata = mergeMetadata(refund.metadata ?? {}, params.metadata);
  return presentRefund(ctx, refund, params.expand);
}

export function listRefunds(ctx: ApiContext, input: FormObject): ListObject<Stripe.Refund> {
  const params = parseParams(input, { ...listParams, payment_intent: param.string(), charge: param.string() });
  const refunds = ctx.state.refunds.list(
    ctx.scope,
    (refund) =>
      (params.payment_intent === undefined || refund.payment_intent === params.payment_intent) &&
      (params.charge === undefined || refund.charge === params.charge),
  );
  const page = paginate(refunds, params, '/v1/refunds', ctx.state.refunds.label);
  return expandList(
    { ...page, data: page.data.map((refund) => structuredClone(refund)) },
    params.expand ?? [],
    refundExpanders(ctx),
  );
}
