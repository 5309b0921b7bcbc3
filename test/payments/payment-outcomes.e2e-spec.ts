import { StripeEventContext } from '@app/common/stripe/on-stripe-event.decorator';
import request from 'supertest';
import type Stripe from 'stripe';
import { PaymentsStripeEventHandlers } from '../../src/modules/payments/stripe-event-handlers';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import { Connected, paymentsHelpers } from './payments-helpers';

describe('payment outcomes', () => {
  let t: TestApp;
  let h: ReturnType<typeof paymentsHelpers>;

  beforeAll(async () => {
    t = await startTestApp();
    h = paymentsHelpers(t);
  });

  afterAll(async () => {
    await t.close();
  });

  describe('cards', () => {
    it.each(['pm_card_visa', 'pm_card_mastercard'])('takes a payment with %s', async (paymentMethod) => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, { paymentMethod });

      expect(response.status).toBe(201);
      expect(response.body.status).toBe('succeeded');
    });

    it.each([
      ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
      ['pm_card_visa_chargeDeclined', 'card_declined', 'generic_decline'],
      ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
      ['pm_card_visa_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
      ['pm_card_chargeDeclinedLostCard', 'card_declined', 'lost_card'],
      ['pm_card_chargeDeclinedStolenCard', 'card_declined', 'stolen_card'],
      ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
      ['pm_card_chargeDeclinedIncorrectCvc', 'incorrect_cvc', 'incorrect_cvc'],
      ['pm_card_chargeDeclinedProcessingError', 'processing_error', 'processing_error'],
      ['pm_card_chargeDeclinedFraudulent', 'card_declined', 'fraudulent'],
      ['pm_card_chargeDeclinedVelocityLimitExceeded', 'card_declined', 'card_velocity_exceeded'],
    ])('answers 402 card_declined for %s', async (paymentMethod, failureCode, declineCode) => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, { paymentMethod });
      const stored = await h.getPayment(tenant.auth, response.body.paymentId);

      expect(response.status).toBe(402);
      expect(response.body).toMatchObject({ code: 'card_declined', failureCode, declineCode, paymentId: expect.any(String) });
      expect(response.body.detail).toMatch(/card/);
      expect(stored.body).toMatchObject({ status: 'failed', failureCode, declineCode });
    });

    it('tells the tenant what to do about insufficient funds', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclinedInsufficientFunds' });

      expect(response.body.detail).toBe('The card has insufficient funds. Ask the customer for another card.');
    });

    it('keeps declineCode null when Stripe gives none', async () => {
      const tenant = await h.connectedTenant();
      const pending = await h.pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequired' });

      await request(t.emulator.url)
        .post(`/_emulator/payment_intents/${pending.body.stripePaymentIntentId}/authenticate`)
        .send({ outcome: 'failed' })
        .expect(201);
      const failed = await eventually(async () => {
        const response = await h.getPayment(tenant.auth, pending.body.id);

        return response.body.status === 'failed' ? response : undefined;
      });

      expect(failed.body.failureCode).toBe('payment_intent_authentication_failure');
      expect(failed.body.declineCode).toBeNull();
      expect(failed.body.clientSecret).toBeNull();
    });

    it('fails a payment declined after 3D Secure with the decline codes', async () => {
      const tenant = await h.connectedTenant();
      const pending = await h.pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequiredChargeDeclinedInsufficientFunds' });

      await request(t.emulator.url)
        .post(`/_emulator/payment_intents/${pending.body.stripePaymentIntentId}/authenticate`)
        .send({ outcome: 'succeeded' })
        .expect(201);
      const failed = await eventually(async () => {
        const response = await h.getPayment(tenant.auth, pending.body.id);

        return response.body.status === 'failed' ? response : undefined;
      });

      expect(failed.body).toMatchObject({ failureCode: 'card_declined', declineCode: 'insufficient_funds' });
    });

    it('answers requires_action with what the client needs to finish', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, { paymentMethod: 'pm_card_threeDSecure2Required' });

      expect(response.status).toBe(201);
      expect(response.body.status).toBe('requires_action');
      expect(response.body.clientSecret).toMatch(/_secret_/);
      expect(response.body.nextAction).toEqual(expect.objectContaining({ type: 'use_stripe_sdk' }));
    });

    it('publishes PaymentSucceeded through the outbox', async () => {
      const tenant = await h.connectedTenant();

      const paid = await h.pay(tenant.auth, { amount: 3100 });

      expect(await h.outboxEvents('payments.payment_succeeded', paid.body.id)).toEqual([
        expect.objectContaining({ paymentId: paid.body.id, amount: 3100, currency: 'usd' }),
      ]);
    });

    it('publishes PaymentFailed through the outbox', async () => {
      const tenant = await h.connectedTenant();

      const declined = await h.pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclinedLostCard' });

      expect(await h.outboxEvents('payments.payment_failed', declined.body.paymentId)).toEqual([
        expect.objectContaining({ failureCode: 'card_declined', declineCode: 'lost_card' }),
      ]);
    });
  });

  describe('amounts', () => {
    it('charges a zero-decimal currency in whole units', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, { amount: 500, currency: 'jpy' });
      const [intent] = await h.stripePaymentIntents(tenant);

      expect(response.body).toMatchObject({ amount: 500, currency: 'jpy' });
      expect(intent.amount).toBe(500);
    });

    it('rejects 49 yen, below Stripe\'s minimum', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, { amount: 49, currency: 'jpy' });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'amount', message: "must be at least 50 (Stripe's minimum charge in jpy)" }]);
    });

    it('rejects a three-decimal amount whose last digit is not 0', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, { amount: 10_005, currency: 'kwd' });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].message).toMatch(/multiple of 10/);
    });

    it('rejects an amount above Stripe\'s maximum', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, { amount: 100_000_000 });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('amount');
    });

    it('rejects a negative amount', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, { amount: -2000 });

      expect(response.status).toBe(400);
    });

    it('rejects an amount before calling Stripe', async () => {
      const tenant = await h.connectedTenant();
      const before = h.stripeCallCount(tenant);

      await h.pay(tenant.auth, { amount: 10 });

      expect(h.stripeCallsSince(tenant, before)).toEqual([]);
    });
  });

  describe('receipts', () => {
    it('passes receiptEmail to Stripe so Stripe sends its receipt', async () => {
      const tenant = await h.connectedTenant();

      await h.pay(tenant.auth, { receiptEmail: 'buyer@example.com' });
      const [intent] = await h.stripePaymentIntents(tenant);

      expect(intent.receipt_email).toBe('buyer@example.com');
    });

    it('shows the charge\'s receipt URL once known', async () => {
      const tenant = await h.connectedTenant();

      const paid = await h.pay(tenant.auth, { receiptEmail: 'buyer@example.com' });
      const stored = await h.getPayment(tenant.auth, paid.body.id);
      const [intent] = await h.stripePaymentIntents(tenant);
      const charge = await h.stripeGet<Stripe.Charge>(tenant, `/v1/charges/${intent.latest_charge as string}`);

      expect(stored.body.receiptUrl).toBe(charge.receipt_url);
    });

    it('learns the receipt URL of a 3D Secure payment from its charge event', async () => {
      const tenant = await h.connectedTenant();
      const pending = await h.pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequired', receiptEmail: 'buyer@example.com' });

      await request(t.emulator.url).post(`/_emulator/payment_intents/${pending.body.stripePaymentIntentId}/authenticate`).send({}).expect(201);
      const settled = await eventually(async () => {
        const response = await h.getPayment(tenant.auth, pending.body.id);

        return response.body.receiptUrl ? response : undefined;
      });

      expect(settled.body.receiptUrl).toMatch(/\/receipts\/ch_/);
    });
  });

  describe('status order', () => {
    function context(tenant: Connected, connected = true): StripeEventContext {
      return {
        tenantId: tenant.tenantId,
        inboxEventId: '00000000-0000-4000-8000-000000000001',
        verifiedBy: 'endpoint',
        connection: connected ? { mode: 'test', accountId: tenant.account.id } : null,
      };
    }

    function intentEvent(type: string, intent: Stripe.PaymentIntent, created: number): Stripe.Event {
      return { id: `evt_test_${created}_${type}`, object: 'event', type, created, livemode: false, data: { object: intent } } as unknown as Stripe.Event;
    }

    it('re-reads the PaymentIntent when two events share a second', async () => {
      const tenant = await h.connectedTenant();
      const pending = await h.pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequired' });
      await h.quiesce(tenant);
      // Stored: processing, decided by an event of second 1000. Stripe: requires_action.
      await h.database().query(`UPDATE payments SET status = 'processing', last_stripe_event_created = 1000 WHERE id = $1`, [pending.body.id]);
      const intent = await h.stripeGet<Stripe.PaymentIntent>(tenant, `/v1/payment_intents/${pending.body.stripePaymentIntentId}`);
      const before = h.stripeCallCount(tenant);

      await t.app.get(PaymentsStripeEventHandlers).onPaymentIntentPending(intentEvent('payment_intent.requires_action', intent, 1000), context(tenant));
      const stored = await h.getPayment(tenant.auth, pending.body.id);

      expect(stored.body.status).toBe('requires_action');
      expect(h.stripeCallsSince(tenant, before)).toEqual([expect.objectContaining({ method: 'GET', path: `/v1/payment_intents/${intent.id}` })]);
    });

    it('keeps the stored status on a tie when the tenant is disconnected', async () => {
      const tenant = await h.connectedTenant();
      const pending = await h.pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequired' });
      await h.quiesce(tenant);
      await h.database().query(`UPDATE payments SET status = 'processing', last_stripe_event_created = 1000 WHERE id = $1`, [pending.body.id]);
      const intent = await h.stripeGet<Stripe.PaymentIntent>(tenant, `/v1/payment_intents/${pending.body.stripePaymentIntentId}`);
      const before = h.stripeCallCount(tenant);

      await t.app.get(PaymentsStripeEventHandlers).onPaymentIntentPending(intentEvent('payment_intent.requires_action', intent, 1000), context(tenant, false));

      expect((await h.getPayment(tenant.auth, pending.body.id)).body.status).toBe('processing');
      expect(h.stripeCallsSince(tenant, before)).toEqual([]);
    });

    it('ignores an older event of the same rank', async () => {
      const tenant = await h.connectedTenant();
      const pending = await h.pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequired' });
      await h.quiesce(tenant);
      await h.database().query(`UPDATE payments SET last_stripe_event_created = 2000 WHERE id = $1`, [pending.body.id]);
      const intent = await h.stripeGet<Stripe.PaymentIntent>(tenant, `/v1/payment_intents/${pending.body.stripePaymentIntentId}`);

      await t.app.get(PaymentsStripeEventHandlers).onPaymentIntentPending(intentEvent('payment_intent.processing', { ...intent, status: 'processing' }, 1999), context(tenant));

      expect((await h.getPayment(tenant.auth, pending.body.id)).body.status).toBe('requires_action');
    });

    it('lets a webhook that beat the API answer settle the payment', async () => {
      const tenant = await h.connectedTenant();
      const paid = await h.pay(tenant.auth, {});
      await h.quiesce(tenant);
      await h.database().query(`UPDATE payments SET status = 'processing', stripe_payment_intent_id = NULL, last_stripe_event_created = NULL WHERE id = $1`, [paid.body.id]);
      const intent = await h.stripeGet<Stripe.PaymentIntent>(tenant, `/v1/payment_intents/${paid.body.stripePaymentIntentId}`);

      await t.app.get(PaymentsStripeEventHandlers).onPaymentIntentSucceeded(intentEvent('payment_intent.succeeded', intent, 3000), context(tenant));

      expect((await h.getPayment(tenant.auth, paid.body.id)).body).toMatchObject({ status: 'succeeded', stripePaymentIntentId: intent.id });
    });
  });
});
