import type { StripeEventContext, StripeEventOutcome } from '@app/common/stripe/on-stripe-event.decorator';
import type { ConnectionView } from '@app/contracts/stripe-connection.contracts';
import type { WebhookVerifiedBy } from './webhook-event.entity';

export type HandlerConnection = StripeEventContext['connection'];

/**
 * Build the connection passed to handlers: mode and account while the tenant
 * has keys (`connected`, or `error` when Stripe rejects them), null once disconnected.
 */
export function handlerConnectionOf(view: ConnectionView): HandlerConnection {
  if (view.status === 'not_connected' || view.mode === null || view.accountId === null) {
    return null;
  }

  return { mode: view.mode, accountId: view.accountId };
}

/**
 * The reasons to ignore an event that need no Stripe call, checked before any
 * handler runs. Returns null when the event goes to its handlers.
 *
 * - A disconnected tenant's event verified by a platform secret is ignored
 *   (`tenant_disconnected`). One verified by the endpoint's own secret, which
 *   is kept 14 days after a disconnect, still goes to the handlers, which apply
 *   it only to objects the service already stores.
 * - An event whose `livemode` differs from the connection's mode is ignored
 *   (`mode_mismatch`).
 */
export function reasonToIgnoreBeforeDispatch(event: {
  livemode: boolean;
  verifiedBy: WebhookVerifiedBy;
  connection: HandlerConnection;
}): 'tenant_disconnected' | 'mode_mismatch' | null {
  if (event.connection === null) {
    return event.verifiedBy === 'platform' ? 'tenant_disconnected' : null;
  }

  if (event.livemode !== (event.connection.mode === 'live')) {
    return 'mode_mismatch';
  }

  return null;
}

/**
 * One outcome for an event several handlers took: `processed` when any
 * handler applied it, else `ignored` with the first handler's reason.
 */
export function combineOutcomes(outcomes: readonly StripeEventOutcome[]): StripeEventOutcome {
  const ignored = outcomes.filter((outcome): outcome is Extract<StripeEventOutcome, { result: 'ignored' }> => outcome?.result === 'ignored');
  if (ignored.length === 0 || ignored.length < outcomes.length) {
    return { result: 'processed' };
  }

  return { result: 'ignored', reason: ignored[0].reason };
}
