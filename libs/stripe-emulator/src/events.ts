import Stripe from 'stripe';
import { newId, nowSeconds } from './ids';

/**
 * An event as Stripe stores and sends it (`Stripe.Event`'s fields), with `type` and
 * `data.object` left open so the control API can emit any event type.
 */
export interface EmulatorEvent {
  id: string;
  object: 'event';
  api_version: string | null;
  created: number;
  data: {
    object: object;
    previous_attributes?: object;
  };
  livemode: boolean;
  pending_webhooks: number;
  request: EventRequest;
  type: string;
}

/** The API request that caused an event. Both ids are null for events Stripe raises by itself. */
export interface EventRequest {
  id: string | null;
  idempotency_key: string | null;
}

export const AUTOMATIC_REQUEST: EventRequest = { id: null, idempotency_key: null };

// Event types are dotted lower-case names such as `charge.refund.updated`.
export const EVENT_TYPE_FORMAT = /^[a-z_]+(\.[a-z_]+)+$/;

export function buildEvent(input: {
  type: string;
  object: object;
  livemode: boolean;
  request: EventRequest;
  previousAttributes?: object;
}): EmulatorEvent {
  return {
    id: newId('evt'),
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: nowSeconds(),
    // A snapshot, so later changes to the object do not alter what the event reports.
    data: {
      object: structuredClone(input.object),
      ...(input.previousAttributes ? { previous_attributes: structuredClone(input.previousAttributes) } : {}),
    },
    livemode: input.livemode,
    pending_webhooks: 0,
    request: { ...input.request },
    type: input.type,
  };
}

/** Checks whether an endpoint's `enabled_events` list selects an event type. */
export function eventTypeEnabled(enabledEvents: readonly string[], type: string): boolean {
  return enabledEvents.includes('*') || enabledEvents.includes(type);
}
