import type Stripe from 'stripe';

export const REFUND_STATUSES = ['pending', 'requires_action', 'succeeded', 'failed', 'canceled'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/** The reasons a client may give, as Stripe names them. */
export const REFUND_REASONS = ['requested_by_customer', 'duplicate', 'fraudulent'] as const;
/** Stripe also reports `expired_uncaptured_charge` on refunds it makes itself. */
export type RefundReason = (typeof REFUND_REASONS)[number] | 'expired_uncaptured_charge';

/** Origin of a refund request: this API, or outside it (the Stripe Dashboard, another integration). */
export type RefundOrigin = 'api' | 'stripe';

/**
 * How far a refund has progressed. Statuses only move to a higher rank:
 * pending/requires_action → succeeded → failed/canceled. A succeeded refund
 * can still fail later (the card network returns it), and failed and canceled
 * are final.
 */
const RANK: Record<RefundStatus, number> = {
  pending: 0,
  requires_action: 0,
  succeeded: 1,
  failed: 2,
  canceled: 2,
};

export function isRefundStatus(value: string): value is RefundStatus {
  return (REFUND_STATUSES as readonly string[]).includes(value);
}

/** Maps Stripe's refund status; an unknown or missing one counts as still pending. */
export function refundStatusOf(status: string | null | undefined): RefundStatus {
  return status && isRefundStatus(status) ? status : 'pending';
}

/** Returns true when a refund's amount is no longer refundable, because it succeeded or may still succeed. */
export function holdsRefundableAmount(status: RefundStatus): boolean {
  return status === 'pending' || status === 'requires_action' || status === 'succeeded';
}

/** Returns the amount left to refund: the payment's amount less succeeded and in-flight refunds, never below 0. */
export function refundableAmount(paymentAmount: number, refunds: readonly { amount: number; status: RefundStatus }[]): number {
  const held = refunds.filter((refund) => holdsRefundableAmount(refund.status)).reduce((sum, refund) => sum + refund.amount, 0);

  return Math.max(0, paymentAmount - held);
}

/** Returns the payment's `amountRefunded`, the sum of its succeeded refunds. */
export function succeededRefundTotal(refunds: readonly { amount: number; status: RefundStatus }[]): number {
  return refunds.filter((refund) => refund.status === 'succeeded').reduce((sum, refund) => sum + refund.amount, 0);
}

/** A refund as Stripe reported it in an API response, a re-read or a webhook event. */
export interface RefundObservation {
  stripeRefundId: string;
  status: RefundStatus;
  amount: number;
  reason: RefundReason | null;
  failureReason: string | null;
  /** `created` of the Stripe event (Unix seconds); null for an API response or a re-read. */
  eventCreated: number | null;
  /** A re-read of the refund from Stripe: the current state, newer than any event applied so far. */
  authoritative: boolean;
}

export function observeRefund(refund: Stripe.Refund, eventCreated: number | null, authoritative = false): RefundObservation {
  return {
    stripeRefundId: refund.id,
    status: refundStatusOf(refund.status),
    amount: refund.amount,
    reason: (refund.reason as RefundReason | null) ?? null,
    failureReason: refund.failure_reason ?? null,
    eventCreated,
    authoritative,
  };
}

/** The parts of a stored refund the update rule reads. */
export interface RefundState {
  status: RefundStatus;
  stripeRefundId: string | null;
  lastStripeEventCreated: number | null;
}

export type RefundChanges = Partial<{
  status: RefundStatus;
  stripeRefundId: string;
  failureReason: string | null;
  lastStripeEventCreated: number;
}>;

export interface RefundUpdatePlan {
  changes: RefundChanges;
  statusApplied: boolean;
  /** The reason an observation's status was not applied, for logs; `same_second` means the caller must re-read. */
  skippedBecause: 'backward' | 'older_event' | 'same_second' | null;
}

/**
 * Decides how an observation changes a stored refund. The status only moves
 * to a higher rank; a change within a rank (pending ↔ requires_action,
 * failed ↔ canceled) needs a newer event, or a re-read. A refund the service
 * marked failed without Stripe ever confirming it (its request was rejected,
 * or never answered) takes whatever Stripe reports, since Stripe's record wins.
 */
export function planRefundUpdate(current: RefundState, observation: RefundObservation): RefundUpdatePlan {
  const changes: RefundChanges = {};
  if (current.stripeRefundId === null) {
    changes.stripeRefundId = observation.stripeRefundId;
  }
  if (observation.eventCreated !== null && (current.lastStripeEventCreated ?? -1) < observation.eventCreated) {
    changes.lastStripeEventCreated = observation.eventCreated;
  }

  const unconfirmedFailure = current.stripeRefundId === null && RANK[current.status] === 2;
  const skippedBecause = unconfirmedFailure ? null : skipReason(current, observation);
  if (skippedBecause !== null || current.status === observation.status) {
    if (skippedBecause === null && observation.failureReason !== null) {
      changes.failureReason = observation.failureReason;
    }

    return { changes, statusApplied: false, skippedBecause };
  }

  changes.status = observation.status;
  changes.failureReason = observation.failureReason;

  return { changes, statusApplied: true, skippedBecause: null };
}

function skipReason(current: RefundState, observation: RefundObservation): RefundUpdatePlan['skippedBecause'] {
  const difference = RANK[observation.status] - RANK[current.status];
  if (difference < 0) {
    return 'backward';
  }
  if (difference > 0 || current.status === observation.status || observation.authoritative) {
    return null;
  }

  const lastApplied = current.lastStripeEventCreated;
  if (observation.eventCreated === null) {
    return lastApplied === null ? null : 'older_event';
  }
  if (lastApplied === null || observation.eventCreated > lastApplied) {
    return null;
  }

  // Two events of the same second cannot be ordered by `created`, so the caller re-reads the refund.
  return observation.eventCreated === lastApplied ? 'same_second' : 'older_event';
}
