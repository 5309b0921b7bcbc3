import { mapStripeError } from './stripe-error.mapper';

function stripeError(type: string, statusCode: number, code?: string, message?: string): Record<string, unknown> {
  return { type, statusCode, code, message };
}

describe('mapStripeError', () => {
  it('maps a missing object to invalid_state', () => {
    const mapped = mapStripeError(stripeError('StripeInvalidRequestError', 404, 'resource_missing', "No such payment_intent: 'pi_123'"));

    expect(mapped.code).toBe('invalid_state');
    expect(mapped.message).toBe(
      "Stripe rejected the request (resource_missing): No such payment_intent: 'pi_123'. The object is not in the connected Stripe account: it was deleted, or made with an account connected before.",
    );
    expect(mapped.extensions).toEqual({ stripeCode: 'resource_missing' });
  });

  it('maps another invalid request to invalid_state', () => {
    const mapped = mapStripeError(stripeError('StripeInvalidRequestError', 400, 'charge_already_refunded', 'Charge ch_1 has already been refunded.'));

    expect(mapped.code).toBe('invalid_state');
    expect(mapped.message).toBe('Stripe rejected the request (charge_already_refunded): Charge ch_1 has already been refunded.');
  });

  it('redacts a secret quoted in the message', () => {
    const secret = `sk_test_${'a'.repeat(24)}`;
    const mapped = mapStripeError(stripeError('StripeInvalidRequestError', 400, 'parameter_invalid', `Bad value ${secret}`));

    expect(mapped.message).not.toContain(secret);
  });

  it('keeps a Stripe failure retryable', () => {
    expect(mapStripeError(stripeError('StripeAPIError', 500)).code).toBe('stripe_unavailable');
    expect(mapStripeError(new Error('socket hang up')).code).toBe('stripe_unavailable');
  });

  it('keeps a rejected key a key error', () => {
    expect(mapStripeError(stripeError('StripeAuthenticationError', 401)).code).toBe('stripe_keys_invalid');
  });
});
