import request from 'supertest';
import { DataSource } from 'typeorm';
import { createOperatorAuth, createTenant, createToken, TenantFixture } from '../support/factories';
import { EmulatorAccount, connectStripe } from '../support/stripe-account';
import { TestApp, eventually, startTestApp } from '../support/test-app';

const PAYMENTS = '/api/v1/payments';
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

const PAYMENT_FIELDS = [
  'amount',
  'amountRefunded',
  'clientSecret',
  'createdAt',
  'currency',
  'declineCode',
  'description',
  'failureCode',
  'id',
  'invoiceId',
  'livemode',
  'nextAction',
  'receiptEmail',
  'receiptUrl',
  'status',
  'stripePaymentIntentId',
  'updatedAt',
];

interface Connected extends TenantFixture {
  account: EmulatorAccount;
}

describe('payments', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  async function connectedTenant(): Promise<Connected> {
    const tenant = await createTenant(t);
    const account = await connectStripe(t, tenant.auth);

    return { ...tenant, account };
  }

  async function pay(auth: { Authorization: string }, body: Record<string, unknown>): Promise<request.Response> {
    return t.http().post(PAYMENTS).set(auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa', ...body });
  }

  async function stripeGet(tenant: Connected, path: string): Promise<Record<string, unknown> & { latest_charge?: string; receipt_url?: string }> {
    const response = await request(t.emulator.url).get(path).auth(tenant.account.test.secretKey, '').expect(200);

    return response.body;
  }

  /** Emits and delivers a Stripe event from the emulator; returns the event id. */
  async function emitEvent(tenant: Connected, type: string, object: object): Promise<string> {
    const response = await request(t.emulator.url).post('/_emulator/events').send({ account: tenant.account.id, type, object }).expect(201);

    return response.body.id;
  }

  /** Waits until the emulator delivered one event of each type to the app; returns their event ids in that order. */
  async function deliveredEvents(tenant: Connected, types: string[]): Promise<string[]> {
    return eventually(async () => {
      const deliveries = await request(t.emulator.url).get('/_emulator/deliveries').query({ account: tenant.account.id });
      const delivered = deliveries.body.data as { eventId: string; type: string; status: string }[];
      const eventIds = types.map((type) => delivered.find((delivery) => delivery.type === type && delivery.status === 'succeeded')?.eventId);

      return eventIds.every((eventId) => eventId !== undefined) ? (eventIds as string[]) : undefined;
    });
  }

  /** Waits until the worker finished a Stripe event and returns its inbox status and reason. */
  async function eventOutcome(tenantId: string, stripeEventId: string): Promise<{ status: string; reason: string | null }> {
    return eventually(async () => {
      const rows: { status: string; reason: string | null }[] = await t.app
        .get(DataSource)
        .query(`SELECT status, reason FROM webhook_events WHERE tenant_id = $1 AND stripe_event_id = $2`, [tenantId, stripeEventId]);

      return rows[0] && ['processed', 'ignored', 'failed'].includes(rows[0].status) ? rows[0] : undefined;
    });
  }

  async function waitForInvoice(tenant: Connected, paymentId: string): Promise<string> {
    const response = await eventually(async () => {
      const found = await t.http().get(`${PAYMENTS}/${paymentId}`).set(tenant.auth);

      return found.body.invoiceId ? found : undefined;
    });

    return response.body.invoiceId;
  }

  async function outboxCount(eventName: string, paymentId: string): Promise<number> {
    const rows: { count: string }[] = await t.app
      .get(DataSource)
      .query(`SELECT count(*) FROM outbox_events WHERE event_name = $1 AND aggregate_id = $2`, [eventName, paymentId]);

    return Number(rows[0].count);
  }

  describe('POST /api/v1/payments', () => {
    it('takes a visa payment as succeeded with a receipt', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, {
        amount: 8900,
        description: 'CPR/AED class, 2 seats',
        receiptEmail: 'buyer@example.com',
        metadata: { classId: 'cls_42' },
      });

      expect(response.status).toBe(201);
      expect(Object.keys(response.body).sort()).toEqual(PAYMENT_FIELDS);
      expect(response.body.status).toBe('succeeded');
      expect(response.body.amount).toBe(8900);
      expect(response.body.amountRefunded).toBe(0);
      expect(response.body.currency).toBe('usd');
      expect(response.body.description).toBe('CPR/AED class, 2 seats');
      expect(response.body.receiptEmail).toBe('buyer@example.com');
      expect(response.body.receiptUrl).toEqual(expect.stringMatching(/^http/));
      expect(response.body.livemode).toBe(false);
      expect(response.body.stripePaymentIntentId).toMatch(/^pi_/);
      expect(response.body.failureCode).toBeNull();
      expect(response.body.declineCode).toBeNull();
      expect(response.body.clientSecret).toBeNull();
      expect(response.body.nextAction).toBeNull();
    });

    it('puts the service ids and the client metadata on the PaymentIntent', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { metadata: { classId: 'cls_7' } });
      const intent = await request(t.emulator.url)
        .get(`/v1/payment_intents/${response.body.stripePaymentIntentId}`)
        .auth(tenant.account.test.secretKey, '');

      expect(intent.body.metadata).toEqual({ classId: 'cls_7', billingPaymentId: response.body.id, billingTenantId: tenant.tenantId });
    });

    it('lets staff take a payment', async () => {
      const tenant = await connectedTenant();
      const staff = await createToken(t, tenant.tenantId, 'staff');

      const response = await pay(staff, {});

      expect(response.status).toBe(201);
    });

    it('stores a declined card as failed and answers 402', async () => {
      const tenant = await connectedTenant();

      const declined = await pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclined' });

      expect(declined.status).toBe(402);
      expect(declined.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(declined.body.code).toBe('card_declined');
      expect(declined.body.failureCode).toBe('card_declined');
      expect(declined.body.declineCode).toBe('generic_decline');
      expect(declined.body.paymentId).toEqual(expect.any(String));
      expect(declined.body.detail).toMatch(/another card/);

      const stored = await t.http().get(`${PAYMENTS}/${declined.body.paymentId}`).set(tenant.auth);
      expect(stored.status).toBe(200);
      expect(stored.body.status).toBe('failed');
      expect(stored.body.failureCode).toBe('card_declined');
      expect(stored.body.declineCode).toBe('generic_decline');
      expect(stored.body.stripePaymentIntentId).toMatch(/^pi_/);
    });

    it('reports an expired card with its own failure code', async () => {
      const tenant = await connectedTenant();

      const declined = await pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclinedExpiredCard' });

      expect(declined.status).toBe(402);
      expect(declined.body.failureCode).toBe('expired_card');
      expect(declined.body.declineCode).toBe('expired_card');
    });

    it('writes PaymentFailed once for a declined card', async () => {
      const tenant = await connectedTenant();

      const declined = await pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclined' });
      const [failedEvent] = await deliveredEvents(tenant, ['payment_intent.payment_failed']);

      expect((await eventOutcome(tenant.tenantId, failedEvent)).status).toBe('processed');
      expect(await outboxCount('payments.payment_failed', declined.body.paymentId)).toBe(1);
    });

    it('returns the client secret while 3D Secure is required', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequired' });

      expect(response.status).toBe(201);
      expect(response.body.status).toBe('requires_action');
      expect(response.body.clientSecret).toEqual(expect.stringMatching(/^pi_.+_secret_/));
      expect(response.body.nextAction).toEqual(expect.objectContaining({ type: expect.any(String) }));
    });

    it('answers 409 stripe_not_connected before connecting', async () => {
      const tenant = await createTenant(t);

      const response = await pay(tenant.auth, {});

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('stripe_not_connected');
    });

    it('stores nothing when not connected', async () => {
      const tenant = await createTenant(t);

      await pay(tenant.auth, {});
      const list = await t.http().get(PAYMENTS).set(tenant.auth);

      expect(list.body.data).toEqual([]);
    });

    it('rejects an amount below the currency minimum', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { amount: 49 });

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'amount', message: expect.stringMatching(/at least 50/) }]);
    });

    it('rejects a missing amount as required', async () => {
      const tenant = await connectedTenant();

      const response = await t.http().post(PAYMENTS).set(tenant.auth).send({ currency: 'usd', paymentMethod: 'pm_card_visa' });

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'amount', message: "is required: a positive integer in the currency's minor unit" }]);
    });

    it('rejects a non-integer amount', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { amount: 20.5 });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'amount', message: "must be a positive integer in the currency's minor unit" }]);
    });

    it('names an unsupported currency and a fractional amount', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { amount: 20.5, currency: 'xyz' });

      expect(response.status).toBe(400);
      expect(response.body.errors.map((error: { field: string }) => error.field)).toEqual(['currency', 'amount']);
    });

    it('rejects an amount sent as a string', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { amount: '2000' });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([
        { field: 'amount', message: "must be a positive integer in the currency's minor unit, sent as a JSON number rather than a string" },
      ]);
    });

    it('says what each missing field expects', async () => {
      const tenant = await connectedTenant();

      const response = await t.http().post(PAYMENTS).set(tenant.auth).send({});

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([
        { field: 'amount', message: "is required: a positive integer in the currency's minor unit" },
        { field: 'currency', message: 'is required: a lower-case three-letter ISO 4217 code' },
        { field: 'paymentMethod', message: "is required: a PaymentMethod id of the tenant's Stripe account, such as pm_card_visa" },
      ]);
    });

    it('rejects an unknown field', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { tip: 100 });

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'tip', message: 'is unknown: remove it or check its spelling' }]);
    });

    it('reports an unknown field with the amount and metadata errors', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { tip: 100, amount: 10, metadata: { billingPaymentId: 'x' } });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([
        { field: 'tip', message: 'is unknown: remove it or check its spelling' },
        { field: 'amount', message: "must be at least 50 (Stripe's minimum charge in usd)" },
        { field: 'metadata.billingPaymentId', message: 'key is reserved for the billing service' },
      ]);
    });

    it('takes null metadata as none', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { metadata: null });

      expect(response.status).toBe(201);
      expect(response.body.status).toBe('succeeded');
    });

    it('rejects an upper-case currency', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { currency: 'USD' });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('currency');
    });

    it('rejects an unsupported currency', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { currency: 'xyz' });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('currency');
    });

    it('rejects a missing payment method', async () => {
      const tenant = await connectedTenant();

      const response = await t.http().post(PAYMENTS).set(tenant.auth).send({ amount: 2000, currency: 'usd' });

      expect(response.status).toBe(400);
      expect(response.body.errors.map((error: { field: string }) => error.field)).toContain('paymentMethod');
    });

    it('rejects metadata with a non-string value', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { metadata: { seats: 2 } });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'metadata.seats', message: 'must be a string' }]);
    });

    it('rejects a blank description and stores nothing', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { description: '\u200b' });
      const list = await t.http().get(PAYMENTS).set(tenant.auth);

      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'description', message: 'must not be blank' }]);
      expect(list.body.data).toEqual([]);
    });

    it('rejects a blank metadata value', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { metadata: { classId: 'cls_7', note: ' \t\u00a0' } });

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'metadata.note', message: 'must not be blank' }]);
    });

    it('accepts an empty description and a payment without one', async () => {
      const tenant = await connectedTenant();

      const empty = await pay(tenant.auth, { description: '' });
      const omitted = await pay(tenant.auth, {});

      expect(empty.status).toBe(201);
      expect(empty.body.description).toBe('');
      expect(omitted.status).toBe(201);
      expect(omitted.body.description).toBeNull();
    });

    it('rejects an invalid receipt email', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { receiptEmail: 'not-an-email' });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('receiptEmail');
    });

    it('rejects a payment method the account does not have and stores nothing', async () => {
      const tenant = await connectedTenant();

      const response = await pay(tenant.auth, { paymentMethod: 'pm_does_not_exist' });
      const list = await t.http().get(PAYMENTS).set(tenant.auth);

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('paymentMethod');
      expect(list.body.data).toEqual([]);
    });

    it('rejects an operator', async () => {
      const operator = await createOperatorAuth(t);

      const response = await pay(operator, {});

      expect(response.status).toBe(403);
    });
  });

  describe('settlement', () => {
    it('links the invoice issued for a succeeded payment', async () => {
      const tenant = await connectedTenant();
      const paid = await pay(tenant.auth, {});

      const linked = await eventually(async () => {
        const response = await t.http().get(`${PAYMENTS}/${paid.body.id}`).set(tenant.auth);

        return response.body.invoiceId ? response : undefined;
      });

      expect(linked.body.invoiceId).toEqual(expect.any(String));
      expect(linked.body.status).toBe('succeeded');
    });

    it('writes PaymentSucceeded once although the webhook repeats the success', async () => {
      const tenant = await connectedTenant();
      const paid = await pay(tenant.auth, {});

      const eventIds = await deliveredEvents(tenant, ['payment_intent.succeeded', 'charge.succeeded']);
      for (const eventId of eventIds) {
        expect((await eventOutcome(tenant.tenantId, eventId)).status).toBe('processed');
      }
      await waitForInvoice(tenant, paid.body.id);

      expect(await outboxCount('payments.payment_succeeded', paid.body.id)).toBe(1);
    });

    it('settles from webhooks without API response', async () => {
      const tenant = await connectedTenant();
      const paid = await pay(tenant.auth, {});
      await waitForInvoice(tenant, paid.body.id);
      // Put the payment back as if Stripe's response never arrived: no intent id, still processing.
      await t.app.get(DataSource).query(
        `UPDATE payments SET status = 'processing', stripe_payment_intent_id = NULL, stripe_charge_id = NULL, receipt_url = NULL
          WHERE id = $1`,
        [paid.body.id],
      );
      const intent = await stripeGet(tenant, `/v1/payment_intents/${paid.body.stripePaymentIntentId}`);
      const charge = await stripeGet(tenant, `/v1/charges/${intent.latest_charge}`);

      await emitEvent(tenant, 'payment_intent.succeeded', intent);
      await emitEvent(tenant, 'charge.succeeded', charge);
      const settled = await eventually(async () => {
        const response = await t.http().get(`${PAYMENTS}/${paid.body.id}`).set(tenant.auth);

        return response.body.status === 'succeeded' && response.body.receiptUrl ? response : undefined;
      });

      expect(settled.body.stripePaymentIntentId).toBe(paid.body.stripePaymentIntentId);
      expect(settled.body.receiptUrl).toBe(charge.receipt_url);
    });

    it('settles a 3D Secure payment from webhooks after authentication', async () => {
      const tenant = await connectedTenant();
      const pending = await pay(tenant.auth, { paymentMethod: 'pm_card_authenticationRequired' });

      await request(t.emulator.url)
        .post(`/_emulator/payment_intents/${pending.body.stripePaymentIntentId}/authenticate`)
        .send({ outcome: 'succeeded' })
        .expect(201);
      const settled = await eventually(async () => {
        const response = await t.http().get(`${PAYMENTS}/${pending.body.id}`).set(tenant.auth);

        return response.body.status === 'succeeded' && response.body.receiptUrl && response.body.invoiceId ? response : undefined;
      });

      expect(settled.body.clientSecret).toBeNull();
      expect(settled.body.nextAction).toBeNull();
    });

    it('never moves a succeeded payment back', async () => {
      const tenant = await connectedTenant();
      const paid = await pay(tenant.auth, {});
      const intent = await stripeGet(tenant, `/v1/payment_intents/${paid.body.stripePaymentIntentId}`);

      const processing = await emitEvent(tenant, 'payment_intent.processing', { ...intent, status: 'processing' });
      const failed = await emitEvent(tenant, 'payment_intent.payment_failed', {
        ...intent,
        status: 'requires_payment_method',
        last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline' },
      });
      expect((await eventOutcome(tenant.tenantId, processing)).status).toBe('processed');
      expect((await eventOutcome(tenant.tenantId, failed)).status).toBe('processed');
      const stored = await t.http().get(`${PAYMENTS}/${paid.body.id}`).set(tenant.auth);

      expect(stored.body.status).toBe('succeeded');
      expect(stored.body.failureCode).toBeNull();
    });

    it('ignores a PaymentIntent the service did not create', async () => {
      const tenant = await connectedTenant();
      const paid = await pay(tenant.auth, {});
      const intent = await stripeGet(tenant, `/v1/payment_intents/${paid.body.stripePaymentIntentId}`);

      const eventId = await emitEvent(tenant, 'payment_intent.succeeded', { ...intent, id: 'pi_foreign123', metadata: {} });

      expect(await eventOutcome(tenant.tenantId, eventId)).toEqual({ status: 'ignored', reason: 'unknown_object' });
    });

    it('retries an event about a payment not stored yet', async () => {
      const tenant = await connectedTenant();
      const paid = await pay(tenant.auth, {});
      const intent = await stripeGet(tenant, `/v1/payment_intents/${paid.body.stripePaymentIntentId}`);
      const unknownPaymentId = '11111111-1111-4111-8111-111111111111';

      await emitEvent(tenant, 'payment_intent.succeeded', {
        ...intent,
        id: 'pi_notyet123',
        metadata: { billingPaymentId: unknownPaymentId, billingTenantId: tenant.tenantId },
      });
      const retried = await eventually(async () => {
        const rows: { status: string; attempts: number; last_error: string | null }[] = await t.app
          .get(DataSource)
          .query(`SELECT status, attempts, last_error FROM webhook_events WHERE tenant_id = $1 AND payload->'data'->'object'->>'id' = 'pi_notyet123'`, [
            tenant.tenantId,
          ]);

        return rows[0]?.last_error ? rows[0] : undefined;
      });

      expect(retried.status).toBe('processing');
      expect(retried.last_error).toMatch(/not stored yet/);
    });
  });

  describe('GET /api/v1/payments', () => {
    it('pages newest first with a cursor', async () => {
      const tenant = await connectedTenant();
      const ids: string[] = [];
      for (const amount of [1000, 1100, 1200]) {
        ids.push((await pay(tenant.auth, { amount })).body.id);
      }

      const first = await t.http().get(PAYMENTS).query({ limit: 2 }).set(tenant.auth);
      const second = await t.http().get(PAYMENTS).query({ limit: 2, cursor: first.body.nextCursor }).set(tenant.auth);

      expect(first.status).toBe(200);
      expect(first.body.data.map((payment: { id: string }) => payment.id)).toEqual([ids[2], ids[1]]);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      expect(second.body.data.map((payment: { id: string }) => payment.id)).toEqual([ids[0]]);
      expect(second.body.nextCursor).toBeNull();
    });

    it('filters by status', async () => {
      const tenant = await connectedTenant();
      await pay(tenant.auth, {});
      const declined = await pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclined' });

      const response = await t.http().get(PAYMENTS).query({ status: 'failed' }).set(tenant.auth);

      expect(response.body.data.map((payment: { id: string }) => payment.id)).toEqual([declined.body.paymentId]);
    });

    it('shows each payment with every contract field', async () => {
      const tenant = await connectedTenant();
      await pay(tenant.auth, {});

      const response = await t.http().get(PAYMENTS).set(tenant.auth);

      expect(Object.keys(response.body.data[0]).sort()).toEqual(PAYMENT_FIELDS);
    });

    it('rejects an unknown status', async () => {
      const tenant = await createTenant(t);

      const response = await t.http().get(PAYMENTS).query({ status: 'paid' }).set(tenant.auth);

      expect(response.status).toBe(400);
    });

    it.each(['abc', '0', '-1', '101', '2.5', '0x10', '1e1', ' 5', '00000001'])('names the allowed range for limit=%s', async (limit) => {
      const tenant = await createTenant(t);

      const response = await t.http().get(PAYMENTS).query({ limit }).set(tenant.auth);

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'limit', message: 'must be an integer from 1 to 100' }]);
    });

    it('rejects a malformed cursor', async () => {
      const tenant = await createTenant(t);

      const response = await t.http().get(PAYMENTS).query({ cursor: 'garbage' }).set(tenant.auth);

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('cursor');
    });
  });

  describe('tenant isolation', () => {
    it('answers 404 for another tenant\'s payment exactly as for a missing one', async () => {
      const owner = await connectedTenant();
      const rival = await createTenant(t);
      const paid = await pay(owner.auth, {});

      const foreign = await t.http().get(`${PAYMENTS}/${paid.body.id}`).set(rival.auth);
      const missing = await t.http().get(`${PAYMENTS}/${MISSING_ID}`).set(rival.auth);

      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual(missing.body);
    });

    it('shows another tenant an empty list', async () => {
      const owner = await connectedTenant();
      const rival = await createTenant(t);
      await pay(owner.auth, {});

      const response = await t.http().get(PAYMENTS).set(rival.auth);

      expect(response.body).toEqual({ data: [], nextCursor: null });
    });

    it('answers 404 for a malformed id', async () => {
      const tenant = await createTenant(t);

      const response = await t.http().get(`${PAYMENTS}/not-a-uuid`).set(tenant.auth);

      expect(response.status).toBe(404);
      expect(response.body.code).toBe('not_found');
    });
  });
});
