import type Stripe from 'stripe';
import { PaymentObservation, PaymentState, observeCardError, observeIntent, planPaymentUpdate } from './payment-observation';

function state(overrides: Partial<PaymentState> = {}): PaymentState {
  return {
    status: 'processing',
    amount: 8900,
    amountRefunded: 0,
    stripePaymentIntentId: 'pi_1',
    stripeChargeId: null,
    receiptUrl: null,
    lastStripeEventCreated: null,
    ...overrides,
  };
}

function observation(overrides: Partial<PaymentObservation> = {}): PaymentObservation {
  return {
    status: 'succeeded',
    paymentIntentId: 'pi_1',
    chargeId: 'ch_1',
    receiptUrl: null,
    clientSecret: null,
    nextAction: null,
    failureCode: null,
    declineCode: null,
    eventCreated: 100,
    succeededAt: 100,
    authoritative: false,
    ...overrides,
  };
}

function intent(overrides: Partial<Stripe.PaymentIntent>): Stripe.PaymentIntent {
  return {
    id: 'pi_1',
    object: 'payment_intent',
    status: 'succeeded',
    client_secret: 'pi_1_secret_x',
    latest_charge: null,
    last_payment_error: null,
    next_action: null,
    ...overrides,
  } as Stripe.PaymentIntent;
}

describe('planPaymentUpdate', () => {
  it('moves processing to succeeded and announces it', () => {
    const plan = planPaymentUpdate(state(), observation());

    expect(plan.changes.status).toBe('succeeded');
    expect(plan.announce).toBe('succeeded');
  });

  it('never moves succeeded back to failed', () => {
    const plan = planPaymentUpdate(state({ status: 'succeeded', lastStripeEventCreated: 100 }), observation({ status: 'failed', eventCreated: 200 }));

    expect(plan.changes.status).toBeUndefined();
    expect(plan.skippedBecause).toBe('backward');
  });

  it('does not announce a success twice', () => {
    const plan = planPaymentUpdate(state({ status: 'succeeded', stripeChargeId: 'ch_1' }), observation({ eventCreated: 300 }));

    expect(plan.announce).toBeNull();
  });

  it('lets a failed payment succeed later', () => {
    const plan = planPaymentUpdate(state({ status: 'failed', lastStripeEventCreated: 200 }), observation({ eventCreated: 150 }));

    expect(plan.changes.status).toBe('succeeded');
  });

  it('applies a newer lateral move', () => {
    const plan = planPaymentUpdate(
      state({ status: 'processing', lastStripeEventCreated: 100 }),
      observation({ status: 'requires_action', eventCreated: 101, clientSecret: 'secret' }),
    );

    expect(plan.changes.status).toBe('requires_action');
  });

  it('keeps the status on a lateral move of the same second', () => {
    const plan = planPaymentUpdate(
      state({ status: 'processing', lastStripeEventCreated: 100 }),
      observation({ status: 'requires_action', eventCreated: 100 }),
    );

    expect(plan.skippedBecause).toBe('same_second');
  });

  it('applies a re-read lateral move of the same second', () => {
    const plan = planPaymentUpdate(
      state({ status: 'processing', lastStripeEventCreated: 100 }),
      observation({ status: 'requires_action', eventCreated: 100, authoritative: true }),
    );

    expect(plan.changes.status).toBe('requires_action');
  });

  it('never moves back even on a re-read', () => {
    const plan = planPaymentUpdate(
      state({ status: 'succeeded', lastStripeEventCreated: 100 }),
      observation({ status: 'processing', eventCreated: 100, authoritative: true }),
    );

    expect(plan.skippedBecause).toBe('backward');
  });

  it('keeps the status on an older lateral move', () => {
    const plan = planPaymentUpdate(
      state({ status: 'requires_action', lastStripeEventCreated: 100 }),
      observation({ status: 'processing', eventCreated: 99 }),
    );

    expect(plan.changes.status).toBeUndefined();
  });

  it('does not let an API response undo an applied event within a rank', () => {
    const plan = planPaymentUpdate(
      state({ status: 'processing', lastStripeEventCreated: 100 }),
      observation({ status: 'requires_action', eventCreated: null }),
    );

    expect(plan.changes.status).toBeUndefined();
  });

  it('records the newest event time', () => {
    const plan = planPaymentUpdate(state({ lastStripeEventCreated: 100 }), observation({ eventCreated: 120 }));

    expect(plan.changes.lastStripeEventCreated).toBe(120);
  });

  it('keeps the newest event time when an older event arrives', () => {
    const plan = planPaymentUpdate(state({ status: 'succeeded', lastStripeEventCreated: 120 }), observation({ status: 'processing', eventCreated: 90 }));

    expect(plan.changes.lastStripeEventCreated).toBeUndefined();
  });

  it('fills the receipt URL on a repeated success', () => {
    const plan = planPaymentUpdate(state({ status: 'succeeded' }), observation({ receiptUrl: 'https://receipt' }));

    expect(plan.changes.receiptUrl).toBe('https://receipt');
  });

  it('keeps a refunded payment refunded on a late success event', () => {
    const plan = planPaymentUpdate(state({ status: 'refunded', amountRefunded: 8900 }), observation());

    expect(plan.changes.status).toBeUndefined();
  });

  it('stores the intent id the webhook brings first', () => {
    const plan = planPaymentUpdate(state({ stripePaymentIntentId: null }), observation({ paymentIntentId: 'pi_2' }));

    expect(plan.changes.stripePaymentIntentId).toBe('pi_2');
  });

  it('clears the client secret once the payment moves on', () => {
    const plan = planPaymentUpdate(state({ status: 'requires_action' }), observation());

    expect(plan.changes.clientSecret).toBeNull();
  });

  it('announces a failure with its codes', () => {
    const plan = planPaymentUpdate(state(), observation({ status: 'failed', failureCode: 'card_declined', declineCode: 'generic_decline' }));

    expect(plan.announce).toBe('failed');
    expect(plan.changes.declineCode).toBe('generic_decline');
  });
});

describe('observeIntent', () => {
  it('takes the receipt URL from an expanded charge', () => {
    const observed = observeIntent(
      intent({ latest_charge: { id: 'ch_9', receipt_url: 'https://r', created: 77 } as Stripe.Charge }),
      null,
    );

    expect(observed.receiptUrl).toBe('https://r');
    expect(observed.chargeId).toBe('ch_9');
    expect(observed.succeededAt).toBe(77);
  });

  it('keeps the client secret only while action is required', () => {
    expect(observeIntent(intent({ status: 'succeeded' }), 5).clientSecret).toBeNull();
  });

  it('carries the client secret of an intent that requires action', () => {
    expect(observeIntent(intent({ status: 'requires_action' }), 5).clientSecret).toBe('pi_1_secret_x');
  });

  it('reads the failure from last_payment_error', () => {
    const observed = observeIntent(
      intent({
        status: 'requires_payment_method',
        last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds', type: 'card_error' } as Stripe.PaymentIntent.LastPaymentError,
      }),
      5,
    );

    expect(observed.status).toBe('failed');
    expect(observed.declineCode).toBe('insufficient_funds');
  });
});

describe('observeCardError', () => {
  it('reads the codes and the intent id of a card error', () => {
    const observed = observeCardError({
      code: 'card_declined',
      decline_code: 'generic_decline',
      charge: 'ch_5',
      payment_intent: intent({ id: 'pi_5', status: 'requires_payment_method' }),
    });

    expect(observed).toMatchObject({ status: 'failed', failureCode: 'card_declined', declineCode: 'generic_decline', chargeId: 'ch_5', paymentIntentId: 'pi_5' });
  });

  it('gives a null decline code when Stripe sends none', () => {
    expect(observeCardError({ code: 'expired_card' }).declineCode).toBeNull();
  });
});
