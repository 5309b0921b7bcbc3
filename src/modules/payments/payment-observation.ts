import type Stripe from 'stripe';
import {
  IntentPaymentStatus,
  PaymentStatus,
  classifyStatusMove,
  derivePaymentStatus,
  paymentStatusForIntent,
} from './payment-status';

/**
 * The state of a payment's PaymentIntent as Stripe reported it in an API
 * response, a card error or a webhook event, normalised so one rule applies to all.
 */
export interface PaymentObservation {
  status: IntentPaymentStatus;
  paymentIntentId: string | null;
  chargeId: string | null;
  /** Set only when the charge object itself was at hand (expanded `latest_charge`). */
  receiptUrl: string | null;
  clientSecret: string | null;
  nextAction: Record<string, unknown> | null;
  failureCode: string | null;
  declineCode: string | null;
  /** `created` of the Stripe event (Unix seconds); null for an API response, which is the newest state when it arrives. */
  eventCreated: number | null;
  /** When Stripe reported the success (Unix seconds), when known. */
  succeededAt: number | null;
  /** A re-read of the PaymentIntent from Stripe: the current state, newer than any event applied so far. */
  authoritative: boolean;
}

export function observeIntent(intent: Stripe.PaymentIntent, eventCreated: number | null, authoritative = false): PaymentObservation {
  const status = paymentStatusForIntent(intent.status);
  const charge = typeof intent.latest_charge === 'object' ? intent.latest_charge : null;
  const chargeId = typeof intent.latest_charge === 'string' ? intent.latest_charge : (charge?.id ?? null);
  const lastError = intent.last_payment_error;

  return {
    status,
    paymentIntentId: intent.id,
    chargeId,
    receiptUrl: charge?.receipt_url ?? null,
    clientSecret: status === 'requires_action' ? intent.client_secret : null,
    nextAction: status === 'requires_action' ? ((intent.next_action as unknown as Record<string, unknown> | null) ?? null) : null,
    failureCode: status === 'failed' ? (lastError?.code ?? null) : null,
    declineCode: status === 'failed' ? (lastError?.decline_code ?? null) : null,
    eventCreated,
    succeededAt: status === 'succeeded' ? (charge?.created ?? eventCreated) : null,
    authoritative,
  };
}

/** The fields of stripe-node's StripeCardError that describe the failed payment. */
export interface CardErrorLike {
  code?: string;
  decline_code?: string;
  charge?: string;
  payment_intent?: Stripe.PaymentIntent;
}

/** Reads a card error as a failed attempt, with the ids from the PaymentIntent that Stripe attaches to it. */
export function observeCardError(error: CardErrorLike): PaymentObservation {
  const intent = error.payment_intent;
  const latestCharge = intent?.latest_charge;
  const chargeId = error.charge ?? (typeof latestCharge === 'string' ? latestCharge : (latestCharge?.id ?? null));

  return {
    status: 'failed',
    paymentIntentId: intent?.id ?? null,
    chargeId,
    receiptUrl: null,
    clientSecret: null,
    nextAction: null,
    failureCode: error.code ?? intent?.last_payment_error?.code ?? 'card_declined',
    declineCode: error.decline_code ?? intent?.last_payment_error?.decline_code ?? null,
    eventCreated: null,
    succeededAt: null,
    authoritative: false,
  };
}

/** The parts of a stored payment the update rule reads. */
export interface PaymentState {
  status: PaymentStatus;
  amount: number;
  amountRefunded: number;
  stripePaymentIntentId: string | null;
  stripeChargeId: string | null;
  receiptUrl: string | null;
  lastStripeEventCreated: number | null;
}

export type PaymentChanges = Partial<{
  status: PaymentStatus;
  stripePaymentIntentId: string;
  stripeChargeId: string;
  receiptUrl: string;
  clientSecret: string | null;
  nextAction: Record<string, unknown> | null;
  failureCode: string | null;
  declineCode: string | null;
  lastStripeEventCreated: number;
}>;

export interface PaymentUpdatePlan {
  changes: PaymentChanges;
  /** Whether the observed status was taken over. */
  statusApplied: boolean;
  /** The domain event the status change announces. Statuses only move forward, so each outcome is announced at most once per payment. */
  announce: 'succeeded' | 'failed' | null;
  /** The reason an observation was not applied, for logs. */
  skippedBecause: 'backward' | 'older_event' | 'same_second' | null;
}

/**
 * Decides how an observation changes a payment. The status only moves
 * forward (processing/requires_action → failed → succeeded). A change within
 * a rank (processing ↔ requires_action) needs an event newer than the last one
 * applied, or a re-read from Stripe. An API response counts as newest only
 * while no event was applied.
 * Ids and the receipt URL are filled in whenever the observation is not
 * backward, because they never contradict a later state.
 */
export function planPaymentUpdate(current: PaymentState, observation: PaymentObservation): PaymentUpdatePlan {
  const changes: PaymentChanges = {};
  if (observation.paymentIntentId && !current.stripePaymentIntentId) {
    changes.stripePaymentIntentId = observation.paymentIntentId;
  }
  if (observation.eventCreated !== null && (current.lastStripeEventCreated ?? -1) < observation.eventCreated) {
    changes.lastStripeEventCreated = observation.eventCreated;
  }

  const move = classifyStatusMove(current.status, observation.status);
  let skippedBecause: PaymentUpdatePlan['skippedBecause'] = null;
  if (move === 'backward') {
    skippedBecause = 'backward';
  } else if (move === 'lateral' && !observation.authoritative) {
    skippedBecause = lateralSkipReason(current.lastStripeEventCreated, observation.eventCreated);
  }

  if (skippedBecause === 'backward') {
    return { changes, statusApplied: false, announce: null, skippedBecause };
  }

  const statusApplied = (move === 'forward' || move === 'lateral') && skippedBecause === null;
  if (statusApplied) {
    changes.status = derivePaymentStatus(observation.status, current.amount, current.amountRefunded);
    changes.clientSecret = observation.clientSecret;
    changes.nextAction = observation.nextAction;
    changes.failureCode = observation.failureCode;
    changes.declineCode = observation.declineCode;
  }

  // A later failed attempt of the same intent replaces the failure codes of the earlier one.
  if (move === 'same' && observation.status === 'failed' && isNewerThan(observation.eventCreated, current.lastStripeEventCreated)) {
    changes.failureCode = observation.failureCode;
    changes.declineCode = observation.declineCode;
  }

  if (statusApplied || move === 'same') {
    if (observation.chargeId && observation.chargeId !== current.stripeChargeId) {
      changes.stripeChargeId = observation.chargeId;
    }
    if (observation.receiptUrl && observation.receiptUrl !== current.receiptUrl) {
      changes.receiptUrl = observation.receiptUrl;
    }
  }

  let announce: PaymentUpdatePlan['announce'] = null;
  if (statusApplied && observation.status === 'succeeded') {
    announce = 'succeeded';
  } else if (statusApplied && observation.status === 'failed') {
    announce = 'failed';
  }

  return { changes, statusApplied, announce, skippedBecause };
}

function isNewerThan(eventCreated: number | null, lastApplied: number | null): boolean {
  return eventCreated === null ? lastApplied === null : lastApplied === null || eventCreated > lastApplied;
}

function lateralSkipReason(lastApplied: number | null, eventCreated: number | null): PaymentUpdatePlan['skippedBecause'] {
  if (eventCreated === null) {
    return lastApplied === null ? null : 'older_event';
  }
  if (lastApplied === null || eventCreated > lastApplied) {
    return null;
  }

  // Two events of the same second cannot be ordered by `created`, so the caller re-reads the PaymentIntent.
  return eventCreated === lastApplied ? 'same_second' : 'older_event';
}
