import { EventEmitter } from 'node:events';
import { register } from 'prom-client';
import type Stripe from 'stripe';
import { instrumentStripeClient, stripeOutcome, stripeResource } from './stripe-client.metrics';

async function stripeRequestCount(labels: Record<string, string>): Promise<number> {
  const metric = register.getSingleMetric('billing_stripe_requests_total');
  const { values } = await metric!.get();
  const match = values.find((value) => Object.entries(labels).every(([key, expected]) => value.labels[key] === expected));

  return match?.value ?? 0;
}

/** An EventEmitter replaces the stripe-node client, which emits `request` and `response` the same way. */
function fakeStripeClient(): EventEmitter & Stripe {
  return new EventEmitter() as unknown as EventEmitter & Stripe;
}

describe('stripeResource', () => {
  it.each([
    ['/v1/payment_intents', 'payment_intents'],
    ['/v1/payment_intents/pi_123/confirm', 'payment_intents'],
    ['/v1/refunds?limit=10', 'refunds'],
    ['/v2/core/events', 'core'],
    ['/v1', 'other'],
  ])('maps %p to %p', (path, expected) => {
    expect(stripeResource(path)).toBe(expected);
  });
});

describe('stripeOutcome', () => {
  it.each([
    [200, 'ok'],
    [402, 'card_error'],
    [400, 'client_error'],
    [404, 'client_error'],
    [401, 'auth_error'],
    [403, 'auth_error'],
    [429, 'rate_limited'],
    [500, 'server_error'],
    [503, 'server_error'],
    [undefined, 'network_error'],
  ])('maps status %p to %p', (status, expected) => {
    expect(stripeOutcome(status)).toBe(expected);
  });
});

describe('instrumentStripeClient', () => {
  it('counts a response by method, resource and outcome', async () => {
    const stripe = fakeStripeClient();
    instrumentStripeClient(stripe);
    const before = await stripeRequestCount({ method: 'POST', resource: 'customers', outcome: 'card_error' });

    stripe.emit('request', { method: 'POST', path: '/v1/customers', request_start_time: 1 });
    stripe.emit('response', { method: 'POST', path: '/v1/customers', request_start_time: 1, status: 402, elapsed: 120 });

    expect(await stripeRequestCount({ method: 'POST', resource: 'customers', outcome: 'card_error' })).toBe(before + 1);
  });

  it('counts each response once when instrumented twice', async () => {
    const stripe = fakeStripeClient();
    instrumentStripeClient(stripe);
    instrumentStripeClient(stripe);
    const before = await stripeRequestCount({ method: 'GET', resource: 'invoices', outcome: 'ok' });

    stripe.emit('response', { method: 'GET', path: '/v1/invoices/in_1', status: 200, elapsed: 30 });

    expect(await stripeRequestCount({ method: 'GET', resource: 'invoices', outcome: 'ok' })).toBe(before + 1);
  });

  it('counts a request without a response as a network error', async () => {
    const stripe = fakeStripeClient();
    instrumentStripeClient(stripe, { timeoutMs: 1_000 });
    const before = await stripeRequestCount({ method: 'POST', resource: 'refunds', outcome: 'network_error' });

    stripe.emit('request', { method: 'POST', path: '/v1/refunds', request_start_time: Date.now() - 10_000 });
    stripe.emit('request', { method: 'GET', path: '/v1/refunds/re_1', request_start_time: Date.now() });

    expect(await stripeRequestCount({ method: 'POST', resource: 'refunds', outcome: 'network_error' })).toBe(before + 1);
  });

  it('does not count an answered request as a network error', async () => {
    const stripe = fakeStripeClient();
    instrumentStripeClient(stripe, { timeoutMs: 1_000 });
    const startedAt = Date.now() - 10_000;
    const before = await stripeRequestCount({ method: 'POST', resource: 'charges', outcome: 'network_error' });

    stripe.emit('request', { method: 'POST', path: '/v1/charges', request_start_time: startedAt });
    stripe.emit('response', { method: 'POST', path: '/v1/charges', request_start_time: startedAt, status: 200, elapsed: 9_000 });
    stripe.emit('request', { method: 'GET', path: '/v1/charges/ch_1', request_start_time: Date.now() });

    expect(await stripeRequestCount({ method: 'POST', resource: 'charges', outcome: 'network_error' })).toBe(before);
  });
});
