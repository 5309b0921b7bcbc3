import type Stripe from 'stripe';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { TenantFixture, createTenant } from '../support/factories';
import { EmulatorAccount, connectStripe } from '../support/stripe-account';
import { TestApp, eventually } from '../support/test-app';

export const PAYMENTS = '/api/v1/payments';
export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

export type Auth = { Authorization: string };

export interface Connected extends TenantFixture {
  account: EmulatorAccount;
}

/** Helpers shared by the payments suites, bound to one running test app. */
export function paymentsHelpers(t: TestApp) {
  const database = (): DataSource => t.app.get(DataSource);
  // Earlier suites leave events under their own queue prefixes, which no worker
  // of this suite will ever pick up, so only this suite's events count.
  const suiteStartedAt = new Date();

  async function connectedTenant(role: 'owner' | 'admin' | 'staff' = 'owner'): Promise<Connected> {
    const tenant = await createTenant(t, role === 'staff' ? 'owner' : role);
    const account = await connectStripe(t, tenant.auth);

    return { ...tenant, account };
  }

  async function pay(auth: Auth, body: Record<string, unknown> = {}, idempotencyKey?: string): Promise<request.Response> {
    const call = t.http().post(PAYMENTS).set(auth);
    if (idempotencyKey !== undefined) {
      call.set('Idempotency-Key', idempotencyKey);
    }

    return call.send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa', ...body });
  }

  async function refund(auth: Auth, paymentId: string, body: Record<string, unknown> = {}, idempotencyKey?: string): Promise<request.Response> {
    const call = t.http().post(`${PAYMENTS}/${paymentId}/refunds`).set(auth);
    if (idempotencyKey !== undefined) {
      call.set('Idempotency-Key', idempotencyKey);
    }

    return call.send(body);
  }

  async function getPayment(auth: Auth, paymentId: string): Promise<request.Response> {
    return t.http().get(`${PAYMENTS}/${paymentId}`).set(auth);
  }

  async function listRefunds(auth: Auth, paymentId: string): Promise<request.Response> {
    return t.http().get(`${PAYMENTS}/${paymentId}/refunds`).set(auth);
  }

  /** Reads an object from the tenant's emulator account with its secret key. */
  async function stripeGet<T = Record<string, unknown>>(tenant: Connected, path: string): Promise<T> {
    const response = await request(t.emulator.url).get(path).auth(tenant.account.test.secretKey, '').expect(200);

    return response.body as T;
  }

  async function stripePaymentIntents(tenant: Connected): Promise<Stripe.PaymentIntent[]> {
    return (await stripeGet<{ data: Stripe.PaymentIntent[] }>(tenant, '/v1/payment_intents?limit=100')).data;
  }

  async function stripeRefunds(tenant: Connected, paymentIntentId: string): Promise<Stripe.Refund[]> {
    return (await stripeGet<{ data: Stripe.Refund[] }>(tenant, `/v1/refunds?payment_intent=${paymentIntentId}&limit=100`)).data;
  }

  /** Emits and delivers a Stripe event from the emulator; returns the event id. */
  async function emitEvent(tenant: Connected, type: string, object: object): Promise<string> {
    const response = await request(t.emulator.url).post('/_emulator/events').send({ account: tenant.account.id, type, object }).expect(201);

    return response.body.id;
  }

  async function dashboardRefund(tenant: Connected, body: Record<string, unknown>): Promise<Stripe.Refund> {
    const response = await request(t.emulator.url).post(`/_emulator/accounts/${tenant.account.id}/dashboard/refunds`).send(body).expect(201);

    return response.body as Stripe.Refund;
  }

  /** Makes the tenant's next Stripe calls fail, so no other tenant's background call takes the faults. */
  async function injectFaults(kind: '500' | 'timeout' | '429' | 'lost_response', count: number, tenant: Connected): Promise<void> {
    await request(t.emulator.url).post('/_emulator/faults').send({ kind, count, account: tenant.account.id }).expect(201);
  }

  async function clearFaults(): Promise<void> {
    await request(t.emulator.url).post('/_emulator/faults').send({ kind: '500', count: 0 }).expect(201);
  }

  async function revokeKey(tenant: Connected): Promise<void> {
    await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: tenant.account.test.secretKey }).expect(201);
  }

  /** Calls to the tenant's Stripe account since the given index of the emulator's request log. */
  function stripeCallsSince(tenant: Connected, since: number): { method: string; path: string; idempotencyKey: string | null }[] {
    return t.emulator.apiRequests({ accountId: tenant.account.id }).slice(since);
  }

  function stripeCallCount(tenant: Connected): number {
    return t.emulator.apiRequests({ accountId: tenant.account.id }).length;
  }

  /** Waits until the worker finished a Stripe event and returns its inbox status and reason. */
  async function eventOutcome(tenantId: string, stripeEventId: string): Promise<{ status: string; reason: string | null }> {
    return eventually(async () => {
      const rows: { status: string; reason: string | null }[] = await database().query(
        `SELECT status, reason FROM webhook_events WHERE tenant_id = $1 AND stripe_event_id = $2`,
        [tenantId, stripeEventId],
      );

      return rows[0] && ['processed', 'ignored', 'failed'].includes(rows[0].status) ? rows[0] : undefined;
    });
  }

  /**
   * Waits until the emulator delivered every event of the account so far and
   * the worker finished each; returns how many there were.
   */
  async function quiesce(tenant: Connected, timeoutMs = 20_000): Promise<number> {
    return eventually(
      async () => {
        const deliveries = await request(t.emulator.url).get('/_emulator/deliveries').query({ account: tenant.account.id });
        const all = deliveries.body.data as { eventId: string; status: string }[];
        if (all.some((delivery) => delivery.status === 'pending')) {
          return undefined;
        }
        const rows: { unfinished: string }[] = await database().query(
          `SELECT count(*) FILTER (WHERE status IN ('received', 'processing')) AS unfinished FROM webhook_events WHERE tenant_id = $1`,
          [tenant.tenantId],
        );

        return Number(rows[0].unfinished) === 0 ? all.length : undefined;
      },
      timeoutMs,
      100,
    );
  }

  /**
   * Waits until no webhook delivery of any account is pending and the worker
   * finished every stored event, so no background Stripe call (a re-read) can
   * take a fault a test injects next.
   */
  async function quiesceAll(timeoutMs = 20_000): Promise<void> {
    await eventually(
      async () => {
        const deliveries = await request(t.emulator.url).get('/_emulator/deliveries');
        if ((deliveries.body.data as { status: string }[]).some((delivery) => delivery.status === 'pending')) {
          return undefined;
        }
        const rows: { unfinished: string }[] = await database().query(
          `SELECT count(*) AS unfinished FROM webhook_events WHERE status IN ('received', 'processing') AND received_at >= $1`,
          [suiteStartedAt],
        );

        return Number(rows[0].unfinished) === 0 ? true : undefined;
      },
      timeoutMs,
      100,
    );
  }

  async function outboxEvents(eventName: string, paymentId: string): Promise<Record<string, unknown>[]> {
    const rows: { payload: Record<string, unknown> }[] = await database().query(
      `SELECT payload FROM outbox_events WHERE event_name = $1 AND aggregate_id = $2 ORDER BY created_at, id`,
      [eventName, paymentId],
    );

    return rows.map((row) => row.payload);
  }

  /** Reads the tenant's audit entries of one action through the API an owner uses. */
  async function auditEntries(auth: Auth, action: string): Promise<{ actor: { kind: string; label: string }; details: Record<string, unknown> }[]> {
    const response = await t.http().get('/api/v1/audit-log').query({ limit: 100 }).set(auth).expect(200);

    return (response.body.data as { action: string; actor: { kind: string; label: string }; details: Record<string, unknown> }[]).filter(
      (entry) => entry.action === action,
    );
  }

  return {
    auditEntries,
    clearFaults,
    connectedTenant,
    dashboardRefund,
    database,
    emitEvent,
    eventOutcome,
    getPayment,
    injectFaults,
    listRefunds,
    outboxEvents,
    pay,
    quiesce,
    quiesceAll,
    refund,
    revokeKey,
    stripeCallCount,
    stripeCallsSince,
    stripeGet,
    stripePaymentIntents,
    stripeRefunds,
  };
}
