/**
 * The Stripe event types the service handles (Payments and Invoicing), which
 * the endpoint registered in each tenant's account subscribes to. A type added
 * to a handler must be added here too, or Stripe never sends it.
 */
export const HANDLED_STRIPE_EVENT_TYPES = [
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.requires_action',
  'payment_intent.processing',
  'payment_intent.canceled',
  'charge.succeeded',
  'charge.refunded',
  'charge.refund.updated',
  'refund.created',
  'refund.updated',
  'refund.failed',
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.voided',
  'invoice.marked_uncollectible',
] as const;
