import { isStripeError } from '@app/common/stripe/stripe-error.mapper';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade } from '@app/contracts/stripe-connection.contracts';
import { Inject, Injectable } from '@nestjs/common';
import type Stripe from 'stripe';

/**
 * Confirms that an event verified only by a platform secret is about the URL
 * tenant's own Stripe account: a platform secret proves the event came from
 * Stripe, not whose account it came from. The event's object is read back
 * with the tenant's key; Stripe returns 404 for objects of other accounts.
 */
@Injectable()
export class StripeObjectConfirmation {
  constructor(@Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade) {}

  /**
   * Check whether the event's object, or the event itself when its object has
   * no retrievable id, exists in the tenant's account. Returns false when
   * Stripe does not find it. Throws `stripe_keys_invalid` or
   * `stripe_permission_missing` when the key cannot read it, and
   * `stripe_unavailable` when Stripe cannot be reached.
   */
  async isInTenantAccount(tenantId: string, event: { id: string; payload: Record<string, unknown> }): Promise<boolean> {
    const { stripe } = await this.stripeConnection.getClient(tenantId);
    try {
      await retrieve(stripe, event.id, objectOf(event.payload));

      return true;
    } catch (error) {
      if (isNotFound(error)) {
        return false;
      }

      throw await this.stripeConnection.translateStripeError(tenantId, error);
    }
  }
}

interface EventObject {
  kind: string | null;
  id: string | null;
}

function objectOf(payload: Record<string, unknown>): EventObject {
  const data = payload.data as { object?: { object?: unknown; id?: unknown } } | undefined;
  const object = data?.object;

  return {
    kind: typeof object?.object === 'string' ? object.object : null,
    id: typeof object?.id === 'string' && object.id.length > 0 ? object.id : null,
  };
}

/** Read the object with the tenant's key: by its own resource for the kinds the service handles, else the event. */
async function retrieve(stripe: Stripe, stripeEventId: string, object: EventObject): Promise<void> {
  const id = object.id;
  if (id === null) {
    await stripe.events.retrieve(stripeEventId);

    return;
  }

  switch (object.kind) {
    case 'payment_intent':
      await stripe.paymentIntents.retrieve(id);
      break;
    case 'charge':
      await stripe.charges.retrieve(id);
      break;
    case 'refund':
      await stripe.refunds.retrieve(id);
      break;
    case 'invoice':
      await stripe.invoices.retrieve(id);
      break;
    case 'customer':
      await stripe.customers.retrieve(id);
      break;
    default:
      await stripe.events.retrieve(stripeEventId);
  }
}

/** Stripe returns 404 (resource_missing) for an id that is not in the key's account and mode. */
function isNotFound(error: unknown): boolean {
  return isStripeError(error) && error.statusCode === 404;
}
