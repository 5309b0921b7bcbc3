import type Stripe from 'stripe';
import { boundedLabel, recordStripeRequest, StripeOutcome } from './metrics';

/** stripe-node's default request timeout (80 s in v23), used when the caller does not pass its own. */
const STRIPE_DEFAULT_TIMEOUT_MS = 80_000;
/** Requests without a response this long after their timeout are counted as network errors. */
const NETWORK_ERROR_GRACE_MS = 5_000;
/** Cap on requests waiting for a response per client, so a client that only fails cannot grow memory. */
const MAX_PENDING_REQUESTS = 1_000;

interface RequestEventLike {
  method?: string;
  path?: string;
  request_start_time?: number;
}

interface ResponseEventLike extends RequestEventLike {
  status?: number;
  elapsed: number;
}

const instrumented = new WeakSet<Stripe>();

/**
 * Records billing_stripe_requests_total and billing_stripe_request_duration_seconds
 * for every request the client sends, from stripe-node's `request` and
 * `response` events. Calling it twice on one client changes nothing.
 *
 * stripe-node emits no event when a request gets no response (timeout,
 * refused connection), so each request waits in a map until its response
 * arrives. A request still waiting `timeoutMs` + 5 s after it started is
 * counted as `network_error` with that age as its latency.
 * NOTE: that check runs only when the same client sends or receives its next
 * request, so a network error on an idle client is recorded late or, if the
 * client is never used again, not at all.
 */
export function instrumentStripeClient(stripe: Stripe, options: { timeoutMs?: number } = {}): Stripe {
  if (instrumented.has(stripe)) {
    return stripe;
  }
  instrumented.add(stripe);

  const expiryMs = (options.timeoutMs ?? STRIPE_DEFAULT_TIMEOUT_MS) + NETWORK_ERROR_GRACE_MS;
  const pending = new Map<string, { method: string; resource: string; startedAt: number }>();

  const recordExpired = (now: number): void => {
    // The map keeps insertion order, so the oldest requests come first.
    for (const [key, request] of pending) {
      if (now - request.startedAt >= expiryMs) {
        pending.delete(key);
        recordStripeRequest(request.method, request.resource, 'network_error', (now - request.startedAt) / 1000);
      } else if (pending.size > MAX_PENDING_REQUESTS) {
        pending.delete(key);
      } else {
        break;
      }
    }
  };

  stripe.on('request', (event: RequestEventLike) => {
    recordExpired(Date.now());
    const startedAt = event.request_start_time ?? Date.now();
    pending.set(pendingKey(event, startedAt), {
      method: event.method ?? '',
      resource: stripeResource(event.path ?? ''),
      startedAt,
    });
  });

  stripe.on('response', (event: ResponseEventLike) => {
    if (event.request_start_time !== undefined) {
      pending.delete(pendingKey(event, event.request_start_time));
    }
    recordStripeRequest(event.method ?? '', stripeResource(event.path ?? ''), stripeOutcome(event.status), event.elapsed / 1000);
    recordExpired(Date.now());
  });

  return stripe;
}

function pendingKey(event: RequestEventLike, startedAt: number): string {
  return `${event.method ?? ''} ${event.path ?? ''} ${startedAt}`;
}

/**
 * The first path segment after the API version: `/v1/payment_intents/pi_1/confirm`
 * gives `payment_intents`. Segments that are not lower-case words become `other`.
 */
export function stripeResource(path: string): string {
  const segments = path.split('?')[0].split('/').filter((segment) => segment.length > 0);
  const resource = /^v\d+$/.test(segments[0] ?? '') ? segments[1] : segments[0];

  return resource === undefined ? 'other' : boundedLabel(resource);
}

/** The outcome of a response by its HTTP status, after Stripe's documented error classes. */
export function stripeOutcome(status: number | undefined): StripeOutcome {
  if (status === undefined || status === 0) {
    return 'network_error';
  }
  if (status < 400) {
    return 'ok';
  }
  if (status === 402) {
    return 'card_error';
  }
  if (status === 401 || status === 403) {
    return 'auth_error';
  }
  if (status === 429) {
    return 'rate_limited';
  }
  if (status < 500) {
    return 'client_error';
  }

  return 'server_error';
}
