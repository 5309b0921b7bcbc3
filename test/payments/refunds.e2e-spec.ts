import { PaymentsStripeEventHandlers } from '../../src/modules/payments/stripe-event-handlers';
import { createOperatorAuth, createTenant, createToken } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import { Connected, MISSING_ID, PAYMENTS, paymentsHelpers } from './payments-helpers';

const REFUND_FIELDS = ['amount', 'createdAt', 'currency', 'failureReason', 'id', 'origin', 'paymentId', 'reason', 'status', 'stripeRefundId'];

describe('refunds', () => {
  let t: TestApp;
  let h: ReturnType<typeof paymentsHelpers>;

  beforeAll(async () => {
    t = await startTestApp();
    h = paymentsHelpers(t);
  });

  afterAll(async () => {
    await t.close();
  });

  async function paidPayment(tenant: Connected, body: Record<string, unknown> = {}): Promise<{ id: string; stripePaymentIntentId: string }> {
    const response = await h.pay(tenant.auth, body);
    expect(response.status).toBe(201);

    return response.body;
  }

  async function refundsOf(tenant: Connected, paymentId: string): Promise<{ id: string; status: string; amount: number; origin: string; stripeRefundId: string | null; failureReason: string | null }[]> {
    return (await h.listRefunds(tenant.auth, paymentId)).body.data;
  }

  describe('POST /api/v1/payments/:id/refunds', () => {
    it('refunds a payment in full', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      const response = await h.refund(tenant.auth, payment.id, { reason: 'requested_by_customer' });

      expect(response.status).toBe(201);
      expect(Object.keys(response.body).sort()).toEqual(REFUND_FIELDS);
      expect(response.body).toMatchObject({
        paymentId: payment.id,
        amount: 2000,
        currency: 'usd',
        status: 'succeeded',
        reason: 'requested_by_customer',
        stripeRefundId: expect.stringMatching(/^re_/),
        failureReason: null,
        origin: 'api',
      });
    });

    it('marks a fully refunded payment refunded', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      await h.refund(tenant.auth, payment.id);
      const stored = await h.getPayment(tenant.auth, payment.id);

      expect(stored.body.status).toBe('refunded');
      expect(stored.body.amountRefunded).toBe(2000);
    });

    it('refunds part of a payment', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      const response = await h.refund(tenant.auth, payment.id, { amount: 500 });
      const stored = await h.getPayment(tenant.auth, payment.id);

      expect(response.body.amount).toBe(500);
      expect(stored.body.status).toBe('partially_refunded');
      expect(stored.body.amountRefunded).toBe(500);
    });

    it('refunds what is left when the amount is missing', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      await h.refund(tenant.auth, payment.id, { amount: 700 });

      const rest = await h.refund(tenant.auth, payment.id, {});

      expect(rest.status).toBe(201);
      expect(rest.body.amount).toBe(1300);
    });

    it('refunds a zero-decimal currency in whole yen', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { amount: 500, currency: 'jpy' });

      const response = await h.refund(tenant.auth, payment.id, { amount: 120 });
      const [stripeRefund] = await h.stripeRefunds(tenant, payment.stripePaymentIntentId);

      expect(response.body).toMatchObject({ amount: 120, currency: 'jpy' });
      expect(stripeRefund.amount).toBe(120);
    });

    it('sends reason, ids and idempotency key', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      const before = h.stripeCallCount(tenant);

      const response = await h.refund(tenant.auth, payment.id, { amount: 300, reason: 'duplicate' });
      const [stripeRefund] = await h.stripeRefunds(tenant, payment.stripePaymentIntentId);
      const calls = h.stripeCallsSince(tenant, before);

      expect(stripeRefund.reason).toBe('duplicate');
      expect(stripeRefund.metadata).toEqual({ billingRefundId: response.body.id, billingPaymentId: payment.id, billingTenantId: tenant.tenantId });
      expect(calls.filter((call) => call.method === 'POST')).toEqual([
        expect.objectContaining({ path: '/v1/refunds', idempotencyKey: `refund-${response.body.id}` }),
      ]);
    });

    it('rejects a refund above what is left', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      await h.refund(tenant.auth, payment.id, { amount: 1500 });

      const response = await h.refund(tenant.auth, payment.id, { amount: 501 });

      expect(response.status).toBe(422);
      expect(response.body.code).toBe('refund_exceeds_payment');
      expect(response.body.amountRefundable).toBe(500);
      expect(response.body.errors).toEqual([{ field: 'amount', message: 'must be at most 500' }]);
    });

    it('rejects any refund of a refunded payment', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      await h.refund(tenant.auth, payment.id);

      const response = await h.refund(tenant.auth, payment.id);

      expect(response.status).toBe(422);
      expect(response.body.code).toBe('refund_exceeds_payment');
    });

    it('decides refund_exceeds_payment before calling Stripe', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      const before = h.stripeCallCount(tenant);

      await h.refund(tenant.auth, payment.id, { amount: 2001 });

      expect(h.stripeCallsSince(tenant, before)).toEqual([]);
    });

    it('answers invalid_state for a payment that never succeeded', async () => {
      const tenant = await h.connectedTenant();
      const declined = await h.pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclined' });

      const response = await h.refund(tenant.auth, declined.body.paymentId, { amount: 99_999 });

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('invalid_state');
    });

    it('answers invalid_state when the charge is not in the connected account', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);
      await connectStripe(t, tenant.auth);

      const response = await h.refund(tenant.auth, payment.id, { amount: 500 });
      const refunds = await refundsOf(tenant, payment.id);

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('invalid_state');
      expect(response.body.detail).toContain('resource_missing');
      expect(response.body.detail).toContain('not in the connected Stripe account');
      expect(refunds).toHaveLength(1);
      expect(refunds[0]).toMatchObject({ status: 'failed', failureReason: 'resource_missing', amount: 500 });
    });

    it('answers invalid_state while 3D Secure is pending', async () => {
      const tenant = await h.connectedTenant();
      const pending = await h.pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequired' });

      const response = await h.refund(tenant.auth, pending.body.id);

      expect(response.body.code).toBe('invalid_state');
    });

    it('lets an admin refund', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      const admin = await createToken(t, tenant.tenantId, 'admin');

      const response = await h.refund(admin, payment.id, { amount: 100 });

      expect(response.status).toBe(201);
    });

    it('forbids staff', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      const staff = await createToken(t, tenant.tenantId, 'staff');

      const response = await h.refund(staff, payment.id, { amount: 100 });

      expect(response.status).toBe(403);
      expect(response.body.code).toBe('forbidden');
    });

    it('rejects an operator', async () => {
      const operator = await createOperatorAuth(t);

      const response = await h.refund(operator, MISSING_ID, {});

      expect(response.status).toBe(403);
    });

    it('rejects an unauthenticated request', async () => {
      const response = await t.http().post(`${PAYMENTS}/${MISSING_ID}/refunds`).send({});

      expect(response.status).toBe(401);
    });

    it.each([
      ['an amount of zero', { amount: 0 }, 'amount'],
      ['a negative amount', { amount: -5 }, 'amount'],
      ['a fractional amount', { amount: 10.5 }, 'amount'],
      ['an amount sent as a string', { amount: '100' }, 'amount'],
      ['an amount above the maximum', { amount: 100_000_000 }, 'amount'],
      ['an unknown reason', { reason: 'changed_mind' }, 'reason'],
      ['an unknown field', { note: 'x' }, 'note'],
    ])('rejects %s with 400', async (_case, body, field) => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      const response = await h.refund(tenant.auth, payment.id, body);

      expect(response.status).toBe(400);
      expect(response.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    });

    it('answers 400 before 404 for a missing payment', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.refund(tenant.auth, MISSING_ID, { amount: 0 });

      expect(response.status).toBe(400);
    });

    it('writes an audit entry naming who asked', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      const admin = await createToken(t, tenant.tenantId, 'admin');

      const refund = await h.refund(admin, payment.id, { amount: 400, reason: 'duplicate' });
      const entries = await h.auditEntries(tenant.auth, 'payment.refunded');

      expect(entries).toHaveLength(1);
      expect(entries[0].actor).toMatchObject({ kind: 'token', label: 'admin token' });
      expect(entries[0].details).toMatchObject({ paymentId: payment.id, refundId: refund.body.id, amount: 400, currency: 'usd', reason: 'duplicate' });
    });

    it('publishes PaymentRefunded through the outbox', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      const refund = await h.refund(tenant.auth, payment.id, { amount: 800 });
      const events = await h.outboxEvents('payments.payment_refunded', payment.id);

      expect(events).toEqual([
        expect.objectContaining({
          paymentId: payment.id,
          refundId: refund.body.id,
          amount: 800,
          amountRefunded: 800,
          currency: 'usd',
          refundStatus: 'succeeded',
          paymentStatus: 'partially_refunded',
          origin: 'api',
        }),
      ]);
    });

    it('publishes PaymentRefunded once although the refund events repeat', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      await h.refund(tenant.auth, payment.id, { amount: 800 });
      await h.quiesce(tenant);

      expect(await h.outboxEvents('payments.payment_refunded', payment.id)).toHaveLength(1);
    });

    it('lets exactly one of ten concurrent refunds of 60 % through', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { amount: 5000 });

      const responses = await Promise.all(Array.from({ length: 10 }, () => h.refund(tenant.auth, payment.id, { amount: 3000 })));
      const statuses = responses.map((response) => response.status).sort();

      expect(statuses).toEqual([201, 422, 422, 422, 422, 422, 422, 422, 422, 422]);
      expect(await h.stripeRefunds(tenant, payment.stripePaymentIntentId)).toHaveLength(1);
      expect((await h.getPayment(tenant.auth, payment.id)).body.amountRefunded).toBe(3000);
    });

    it('counts a pending refund in what is left, then succeeds it', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { paymentMethod: 'pm_card_pendingRefund' });

      const pending = await h.refund(tenant.auth, payment.id, { amount: 1500 });
      const over = await h.refund(tenant.auth, payment.id, { amount: 501 });
      const settled = await eventually(async () => {
        const [refund] = await refundsOf(tenant, payment.id);

        return refund?.status === 'succeeded' ? refund : undefined;
      });
      const stored = await h.getPayment(tenant.auth, payment.id);

      expect(pending.body.status).toBe('pending');
      expect(over.body.code).toBe('refund_exceeds_payment');
      expect(settled.id).toBe(pending.body.id);
      expect(stored.body.amountRefunded).toBe(1500);
      expect(stored.body.status).toBe('partially_refunded');
    });

    it('keeps amountRefunded at 0 while a refund is pending', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { paymentMethod: 'pm_card_pendingRefund' });

      await h.refund(tenant.auth, payment.id, { amount: 1500 });
      const stored = await h.getPayment(tenant.auth, payment.id);

      expect(stored.body.amountRefunded).toBe(0);
      expect(stored.body.status).toBe('succeeded');
    });

    it('gives the amount back when a refund fails later', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { paymentMethod: 'pm_card_refundFail' });

      const refund = await h.refund(tenant.auth, payment.id);
      const failed = await eventually(async () => {
        const [stored] = await refundsOf(tenant, payment.id);

        return stored?.status === 'failed' ? stored : undefined;
      });
      const stored = await eventually(async () => {
        const response = await h.getPayment(tenant.auth, payment.id);

        return response.body.amountRefunded === 0 ? response : undefined;
      });

      expect(refund.body.status).toBe('succeeded');
      expect(failed.failureReason).toBe('expired_or_canceled_card');
      expect(stored.body.status).toBe('succeeded');
    });

    it('announces the reversal of a failed refund', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { paymentMethod: 'pm_card_refundFail' });

      const refund = await h.refund(tenant.auth, payment.id);
      const events = await eventually(async () => {
        const found = await h.outboxEvents('payments.payment_refunded', payment.id);

        return found.length === 2 ? found : undefined;
      });

      expect(events.map((event) => [event.refundId, event.refundStatus, event.amountRefunded, event.paymentStatus])).toEqual([
        [refund.body.id, 'succeeded', 2000, 'refunded'],
        [refund.body.id, 'failed', 0, 'succeeded'],
      ]);
    });

    it('refunds again what a failed refund gave back', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { paymentMethod: 'pm_card_refundFail' });
      await h.refund(tenant.auth, payment.id, { amount: 1200 });
      await eventually(async () => ((await refundsOf(tenant, payment.id))[0]?.status === 'failed' ? true : undefined));

      const again = await h.refund(tenant.auth, payment.id, { amount: 2000 });

      expect(again.status).toBe(201);
    });
  });

  describe('GET /api/v1/payments/:id/refunds', () => {
    it('lists refunds newest first', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      const first = await h.refund(tenant.auth, payment.id, { amount: 100 });
      const second = await h.refund(tenant.auth, payment.id, { amount: 200 });

      const response = await h.listRefunds(tenant.auth, payment.id);

      expect(response.status).toBe(200);
      expect(response.body.data.map((refund: { id: string }) => refund.id)).toEqual([second.body.id, first.body.id]);
      expect(response.body.nextCursor).toBeNull();
    });

    it('pages with a cursor', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      const ids: string[] = [];
      for (const amount of [100, 200, 300]) {
        ids.push((await h.refund(tenant.auth, payment.id, { amount })).body.id);
      }

      const first = await t.http().get(`${PAYMENTS}/${payment.id}/refunds`).query({ limit: 2 }).set(tenant.auth);
      const second = await t.http().get(`${PAYMENTS}/${payment.id}/refunds`).query({ limit: 2, cursor: first.body.nextCursor }).set(tenant.auth);

      expect(first.body.data.map((refund: { id: string }) => refund.id)).toEqual([ids[2], ids[1]]);
      expect(second.body.data.map((refund: { id: string }) => refund.id)).toEqual([ids[0]]);
      expect(second.body.nextCursor).toBeNull();
    });

    it('lets staff list refunds', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      await h.refund(tenant.auth, payment.id, { amount: 100 });
      const staff = await createToken(t, tenant.tenantId, 'staff');

      const response = await h.listRefunds(staff, payment.id);

      expect(response.body.data).toHaveLength(1);
    });

    it('shows every contract field', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      await h.refund(tenant.auth, payment.id, { amount: 100 });

      const response = await h.listRefunds(tenant.auth, payment.id);

      expect(Object.keys(response.body.data[0]).sort()).toEqual(REFUND_FIELDS);
    });
  });

  describe('refunds made outside the service', () => {
    it('records a Dashboard refund from its webhooks', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      const dashboard = await h.dashboardRefund(tenant, { paymentIntent: payment.stripePaymentIntentId, amount: 700 });
      const recorded = await eventually(async () => {
        const [refund] = await refundsOf(tenant, payment.id);

        return refund?.status === 'succeeded' ? refund : undefined;
      });
      const stored = await eventually(async () => {
        const response = await h.getPayment(tenant.auth, payment.id);

        return response.body.amountRefunded === 700 ? response : undefined;
      });

      expect(recorded).toMatchObject({ stripeRefundId: dashboard.id, amount: 700, origin: 'stripe' });
      expect(stored.body.status).toBe('partially_refunded');
    });

    it('stores a Dashboard refund once although its events repeat', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      await h.dashboardRefund(tenant, { paymentIntent: payment.stripePaymentIntentId, amount: 700 });
      await h.quiesce(tenant);

      expect(await refundsOf(tenant, payment.id)).toHaveLength(1);
    });

    it('audits a Dashboard refund as made in Stripe', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      await h.dashboardRefund(tenant, { paymentIntent: payment.stripePaymentIntentId, amount: 700 });
      await h.quiesce(tenant);
      const entries = await h.auditEntries(tenant.auth, 'payment.refunded');

      expect(entries).toEqual([expect.objectContaining({ actor: expect.objectContaining({ kind: 'system' }), details: expect.objectContaining({ origin: 'stripe', amount: 700 }) })]);
    });

    it('counts a Dashboard refund in what is left', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      await h.dashboardRefund(tenant, { paymentIntent: payment.stripePaymentIntentId, amount: 1500 });

      const response = await h.refund(tenant.auth, payment.id, { amount: 1000 });

      expect(response.status).toBe(422);
      expect(response.body.code).toBe('refund_exceeds_payment');
      expect(response.body.amountRefundable).toBe(500);
    });

    it('rereads refunds after Stripe rejects an over-refund', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);
      const dashboard = await h.dashboardRefund(tenant, { paymentIntent: payment.stripePaymentIntentId, amount: 1500 });
      await h.quiesce(tenant);
      // As if the Dashboard refund's events had not arrived yet.
      await h.database().query(`DELETE FROM refunds WHERE tenant_id = $1`, [tenant.tenantId]);
      await h.database().query(`UPDATE payments SET amount_refunded = 0, status = 'succeeded' WHERE id = $1`, [payment.id]);

      const response = await h.refund(tenant.auth, payment.id, { amount: 1000 });
      const refunds = await refundsOf(tenant, payment.id);

      expect(response.status).toBe(422);
      expect(response.body.code).toBe('refund_exceeds_payment');
      expect(response.body.amountRefundable).toBe(500);
      expect(refunds.map((refund) => [refund.origin, refund.status, refund.amount])).toEqual(
        expect.arrayContaining([
          ['stripe', 'succeeded', 1500],
          ['api', 'failed', 1000],
        ]),
      );
      expect(refunds.find((refund) => refund.origin === 'stripe')?.stripeRefundId).toBe(dashboard.id);
    });

    it('reflects a Dashboard refund that fails later', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant);

      await h.dashboardRefund(tenant, { paymentIntent: payment.stripePaymentIntentId, amount: 900, outcome: 'failed' });
      const failed = await eventually(async () => {
        const [refund] = await refundsOf(tenant, payment.id);

        return refund?.status === 'failed' ? refund : undefined;
      });
      const stored = await h.getPayment(tenant.auth, payment.id);

      expect(failed.failureReason).toBe('expired_or_canceled_card');
      expect(stored.body.amountRefunded).toBe(0);
    });

    it('matches Stripe after API and Dashboard refunds', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { amount: 6000 });

      await h.refund(tenant.auth, payment.id, { amount: 1000 });
      await h.dashboardRefund(tenant, { paymentIntent: payment.stripePaymentIntentId, amount: 2000 });
      await h.refund(tenant.auth, payment.id, { amount: 500 });
      await h.quiesce(tenant);
      const charge = await h.stripeGet<{ amount_refunded: number }>(
        tenant,
        `/v1/charges/${(await h.stripeGet<{ latest_charge: string }>(tenant, `/v1/payment_intents/${payment.stripePaymentIntentId}`)).latest_charge}`,
      );

      expect((await h.getPayment(tenant.auth, payment.id)).body.amountRefunded).toBe(charge.amount_refunded);
    });

    it('ignores a refund of a charge the service did not create', async () => {
      const tenant = await h.connectedTenant();

      const eventId = await h.emitEvent(tenant, 'refund.created', {
        id: 're_foreign1',
        object: 'refund',
        amount: 100,
        currency: 'usd',
        status: 'succeeded',
        charge: 'ch_foreign1',
        payment_intent: 'pi_foreign1',
        metadata: {},
      });

      expect(await h.eventOutcome(tenant.tenantId, eventId)).toEqual({ status: 'ignored', reason: 'unknown_object' });
    });

    it('never moves a failed refund back to succeeded', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { paymentMethod: 'pm_card_refundFail' });
      const refund = await h.refund(tenant.auth, payment.id, { amount: 1000 });
      await eventually(async () => ((await refundsOf(tenant, payment.id))[0]?.status === 'failed' ? true : undefined));
      const stripeRefund = await h.stripeGet<Record<string, unknown>>(tenant, `/v1/refunds/${refund.body.stripeRefundId}`);

      const eventId = await h.emitEvent(tenant, 'refund.updated', { ...stripeRefund, status: 'succeeded', failure_reason: null });
      await h.eventOutcome(tenant.tenantId, eventId);
      const [stored] = await refundsOf(tenant, payment.id);

      expect(stored.status).toBe('failed');
      expect((await h.getPayment(tenant.auth, payment.id)).body.amountRefunded).toBe(0);
    });
  });

  describe('status order', () => {
    function refundEvent(tenant: Connected, stripeRefund: object, created: number) {
      const event = { id: `evt_tie_${created}`, object: 'event', type: 'refund.updated', created, livemode: false, data: { object: stripeRefund } };
      const context = { tenantId: tenant.tenantId, inboxEventId: MISSING_ID, verifiedBy: 'endpoint' as const, connection: { mode: 'test' as const, accountId: tenant.account.id } };

      return t.app.get(PaymentsStripeEventHandlers).onRefundChanged(event as never, context);
    }

    it('re-reads the refund when two events share a second', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { paymentMethod: 'pm_card_refundFail' });
      const refund = await h.refund(tenant.auth, payment.id, { amount: 1000 });
      await eventually(async () => ((await refundsOf(tenant, payment.id))[0]?.status === 'failed' ? true : undefined));
      await h.quiesce(tenant);
      // Stored: canceled by an event of second 1000. Stripe: failed, a status of the same rank.
      await h.database().query(`UPDATE refunds SET status = 'canceled', last_stripe_event_created = 1000 WHERE id = $1`, [refund.body.id]);
      const stripeRefund = await h.stripeGet<Record<string, unknown>>(tenant, `/v1/refunds/${refund.body.stripeRefundId}`);

      await refundEvent(tenant, { ...stripeRefund, status: 'failed' }, 1000);
      const [stored] = await refundsOf(tenant, payment.id);

      expect(stored.status).toBe('failed');
    });

    it('ignores an older event of the same rank', async () => {
      const tenant = await h.connectedTenant();
      const payment = await paidPayment(tenant, { paymentMethod: 'pm_card_refundFail' });
      const refund = await h.refund(tenant.auth, payment.id, { amount: 1000 });
      await eventually(async () => ((await refundsOf(tenant, payment.id))[0]?.status === 'failed' ? true : undefined));
      await h.quiesce(tenant);
      await h.database().query(`UPDATE refunds SET last_stripe_event_created = 5000 WHERE id = $1`, [refund.body.id]);
      const stripeRefund = await h.stripeGet<Record<string, unknown>>(tenant, `/v1/refunds/${refund.body.stripeRefundId}`);

      await refundEvent(tenant, { ...stripeRefund, status: 'canceled' }, 4999);
      const [stored] = await refundsOf(tenant, payment.id);

      expect(stored.status).toBe('failed');
    });
  });

  describe('tenant isolation', () => {
    it('answers 404 for a refund of another tenant\'s payment exactly as for a missing one', async () => {
      const owner = await h.connectedTenant();
      const rival = await h.connectedTenant();
      const payment = await paidPayment(owner);

      const foreign = await h.refund(rival.auth, payment.id, { amount: 100 });
      const missing = await h.refund(rival.auth, MISSING_ID, { amount: 100 });

      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual(missing.body);
    });

    it('leaves another tenant\'s payment unrefunded', async () => {
      const owner = await h.connectedTenant();
      const rival = await h.connectedTenant();
      const payment = await paidPayment(owner);

      await h.refund(rival.auth, payment.id, { amount: 100 });

      expect(await h.stripeRefunds(owner, payment.stripePaymentIntentId)).toEqual([]);
    });

    it('answers 404 for the refund list of another tenant\'s payment', async () => {
      const owner = await h.connectedTenant();
      const rival = await createTenant(t);
      const payment = await paidPayment(owner);

      const foreign = await h.listRefunds(rival.auth, payment.id);
      const missing = await h.listRefunds(rival.auth, MISSING_ID);

      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual(missing.body);
    });

    it('answers 404 for a malformed payment id', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.refund(tenant.auth, 'not-a-uuid', { amount: 100 });

      expect(response.status).toBe(404);
      expect(response.body.code).toBe('not_found');
    });

    it('does not take a refund of another account\'s charge from webhooks', async () => {
      const owner = await h.connectedTenant();
      const rival = await h.connectedTenant();
      const payment = await paidPayment(owner);
      const ownerRefund = await h.refund(owner.auth, payment.id, { amount: 100 });
      const stripeRefund = await h.stripeGet<Record<string, unknown>>(owner, `/v1/refunds/${ownerRefund.body.stripeRefundId}`);

      const eventId = await h.emitEvent(rival, 'refund.created', { ...stripeRefund, id: 're_copied1' });

      expect((await h.eventOutcome(rival.tenantId, eventId)).status).toBe('ignored');
      expect(await refundsOf(owner, payment.id)).toHaveLength(1);
    });
  });
});
