import { SetMetadata } from '@nestjs/common';
import type Stripe from 'stripe';

export const STRIPE_EVENT_HANDLER = 'billing:stripe-event-handler';

export interface StripeEventHandlerMetadata {
  types: string[];
}

/** How the delivery was verified and what the tenant's connection was when it was processed. */
export interface StripeEventContext {
  tenantId: string;
  inboxEventId: string;
  verifiedBy: 'endpoint' | 'platform';
  /** The tenant's connection at processing time; null after a disconnect. */
  connection: { mode: 'test' | 'live'; accountId: string } | null;
}

export type StripeEventOutcome = { result: 'processed' } | { result: 'ignored'; reason: string };

/**
 * Marks a provider method as the handler of Stripe event types:
 * `(event: Stripe.Event, context: StripeEventContext) => Promise<StripeEventOutcome>`.
 * Throw to retry with backoff; throw `PermanentJobError` to fail without retries.
 */
export const OnStripeEvent = (...types: string[]) =>
  SetMetadata<string, StripeEventHandlerMetadata>(STRIPE_EVENT_HANDLER, { types });

export type StripeEventHandlerFn = (event: Stripe.Event, context: StripeEventContext) => Promise<StripeEventOutcome>;
