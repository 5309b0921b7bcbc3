import type { InvoiceStatus } from './invoice.entity';

/**
 * How far along an invoice is. Statuses only move to a higher rank: a draft is issued, an
 * issued invoice becomes open, an open one may become uncollectible, and paid and void are
 * final. Stripe's own transitions never go down this order either (an uncollectible invoice
 * can still be paid or voided), so events applied in any order end in Stripe's final status.
 */
const RANK: Record<InvoiceStatus, number> = {
  draft: 0,
  issuing: 1,
  open: 2,
  uncollectible: 3,
  paid: 4,
  void: 4,
};

/** Statuses Stripe reports for an invoice, as stripe-node types them. */
export type StripeInvoiceStatus = 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';

const STRIPE_STATUSES: readonly string[] = ['draft', 'open', 'paid', 'uncollectible', 'void'];

export function isStripeInvoiceStatus(value: unknown): value is StripeInvoiceStatus {
  return typeof value === 'string' && STRIPE_STATUSES.includes(value);
}

export function isFinalStatus(status: InvoiceStatus): boolean {
  return RANK[status] === RANK.paid;
}

/**
 * Returns the status an invoice moves to when Stripe reports `observed`, or null when it stays
 * as it is: Stripe's draft adds nothing to a local status, and a report of an earlier stage
 * (delivered late) never moves an invoice back.
 */
export function nextStatus(current: InvoiceStatus, observed: StripeInvoiceStatus): InvoiceStatus | null {
  if (observed === 'draft' || observed === current) {
    return null;
  }

  return RANK[observed] > RANK[current] ? observed : null;
}
