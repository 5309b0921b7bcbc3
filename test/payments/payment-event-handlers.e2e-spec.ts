import { StripeEventContext } from '@app/common/stripe/on-stripe-event.decorator';
import { PaymentSucceededEvent } from '@app/contracts/payments.contracts';
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { PaymentSettlementService } from '../../src/modules/payments/payment-settlement.service';
import { PaymentsRepository } from '../../src/modules/payments/payments.repository';
import { PaymentsStripeEventHandlers } from '../../src/modules/payments/stripe-event-handlers';
import { TestApp, startTestApp } from '../support/test-app';
import { Connected, paymentsHelpers } from './payments-helpers';

/** A payment as `POST /api/v1/payments` leaves it until Stripe's response arrives. */
interface ProcessingPayment {
  id: string;
  intentId: string;
  chargeId: string;
}

describe('payment event handlers', () => {
  let t: TestApp;
  let h: ReturnType<typeof paymentsHelpers>;
  let handlers: PaymentsStripeEventHandlers;

  beforeAll(async () => {
    t = await startTestApp();
    h = paymentsHelpers(t);
    handlers = t.app.get(PaymentsStripeEventHandlers);
  });

  afterAll(async () => {
    await t.close();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  async function processingPayment(tenant: Connected): Promise<ProcessingPayment> {
    const payment = { id: randomUUID(), intentId: `pi_handlers_${randomUUID().slice(0, 8)}`, chargeId: `ch_handlers_${randomUUID().slice(0, 8)}` };
    await h
      .database()
      .query(
        `INSERT INTO payments (id, tenant_id, status, amount, currency, livemode, stripe_payment_intent_id, metadata) VALUES ($1, $2, 'processing', 8900, 'usd', false, $3, '{}')`,
        [payment.id, tenant.tenantId, payment.intentId],
      );

    return payment;
  }

  function contextOf(tenant: Connected): StripeEventContext {
    return { tenantId: tenant.tenantId, inboxEventId: randomUUID(), verifiedBy: 'endpoint', connection: { mode: 'test', accountId: tenant.account.id } };
  }

  function succeeded(payment: ProcessingPayment, tenant: Connected): Stripe.Event {
    const created = Math.floor(Date.now() / 1000);
    const intent = {
      id: payment.intentId,
      object: 'payment_intent',
      status: 'succeeded',
      amount: 8900,
      currency: 'usd',
      created,
      latest_charge: payment.chargeId,
      last_payment_error: null,
      next_action: null,
      metadata: { billingPaymentId: payment.id, billingTenantId: tenant.tenantId },
    };

    return { id: `evt_${randomUUID()}`, object: 'event', type: 'payment_intent.succeeded', created, livemode: false, data: { object: intent } } as unknown as Stripe.Event;
  }

  function chargeSucceeded(payment: ProcessingPayment, tenant: Connected): Stripe.Event {
    const created = Math.floor(Date.now() / 1000);
    const charge = {
      id: payment.chargeId,
      object: 'charge',
      status: 'succeeded',
      paid: true,
      amount: 8900,
      currency: 'usd',
      created,
      payment_intent: payment.intentId,
      receipt_url: `https://pay.stripe.com/receipts/${payment.chargeId}`,
      metadata: { billingPaymentId: payment.id, billingTenantId: tenant.tenantId },
    };

    return { id: `evt_${randomUUID()}`, object: 'event', type: 'charge.succeeded', created, livemode: false, data: { object: charge } } as unknown as Stripe.Event;
  }

  /** Runs `between` once, after the next unlocked read of a payment by its intent id and before the write. */
  function betweenReadAndWrite(between: (paymentIntentId: string) => Promise<void>): void {
    const payments = t.app.get(PaymentsRepository);
    const read = payments.findVersionedByPaymentIntentId.bind(payments);
    jest.spyOn(payments, 'findVersionedByPaymentIntentId').mockImplementationOnce(async (tenantId, paymentIntentId) => {
      const found = await read(tenantId, paymentIntentId);
      await between(paymentIntentId);

      return found;
    });
  }

  /** Changes the payment's row between the next unlocked read and the write, so its version no longer matches. */
  function changeAfterRead(): void {
    betweenReadAndWrite(async (paymentIntentId) => {
      await h.database().query(`UPDATE payments SET description = 'changed meanwhile' WHERE stripe_payment_intent_id = $1`, [paymentIntentId]);
    });
  }

  async function storedPayment(id: string): Promise<{ status: string; stripe_charge_id: string | null; receipt_url: string | null; description: string | null }> {
    const [row] = await h.database().query(`SELECT status, stripe_charge_id, receipt_url, description FROM payments WHERE id = $1`, [id]);

    return row;
  }

  async function successEvents(tenant: Connected, paymentId: string): Promise<number> {
    const [row] = await h
      .database()
      .query(`SELECT count(*)::int AS events FROM outbox_events WHERE tenant_id = $1 AND aggregate_id = $2 AND event_name = $3`, [
        tenant.tenantId,
        paymentId,
        PaymentSucceededEvent.eventName,
      ]);

    return row.events;
  }

  it('settles a payment without a row lock', async () => {
    const tenant = await h.connectedTenant();
    const payment = await processingPayment(tenant);
    const locked = jest.spyOn(t.app.get(PaymentSettlementService), 'apply');

    const outcome = await handlers.onPaymentIntentSucceeded(succeeded(payment, tenant), contextOf(tenant));

    expect(outcome).toEqual({ result: 'processed' });
    expect(locked).not.toHaveBeenCalled();
    expect((await storedPayment(payment.id)).status).toBe('succeeded');
    expect(await successEvents(tenant, payment.id)).toBe(1);
  });

  it('locks a payment changed after its read', async () => {
    const tenant = await h.connectedTenant();
    const payment = await processingPayment(tenant);
    changeAfterRead();
    const locked = jest.spyOn(t.app.get(PaymentSettlementService), 'apply');

    const outcome = await handlers.onPaymentIntentSucceeded(succeeded(payment, tenant), contextOf(tenant));

    expect(outcome).toEqual({ result: 'processed' });
    expect(locked).toHaveBeenCalledTimes(1);
    const stored = await storedPayment(payment.id);
    expect(stored.status).toBe('succeeded');
    expect(stored.description).toBe('changed meanwhile');
    expect(await successEvents(tenant, payment.id)).toBe(1);
  });

  it('announces a repeated success once', async () => {
    const tenant = await h.connectedTenant();
    const payment = await processingPayment(tenant);
    const event = succeeded(payment, tenant);

    await handlers.onPaymentIntentSucceeded(event, contextOf(tenant));
    const repeated = await handlers.onPaymentIntentSucceeded(event, contextOf(tenant));

    expect(repeated).toEqual({ result: 'processed' });
    expect(await successEvents(tenant, payment.id)).toBe(1);
  });

  it('locks a charge\'s payment changed after its read', async () => {
    const tenant = await h.connectedTenant();
    const payment = await processingPayment(tenant);
    changeAfterRead();
    const locked = jest.spyOn(t.app.get(PaymentsRepository), 'lockByPaymentIntentId');

    const outcome = await handlers.onChargeSucceeded(chargeSucceeded(payment, tenant), contextOf(tenant));

    expect(outcome).toEqual({ result: 'processed' });
    expect(locked).toHaveBeenCalledTimes(1);
    const stored = await storedPayment(payment.id);
    expect(stored.stripe_charge_id).toBe(payment.chargeId);
    expect(stored.receipt_url).toBe(`https://pay.stripe.com/receipts/${payment.chargeId}`);
    expect(stored.description).toBe('changed meanwhile');
  });

  it('stores a charge without a row lock', async () => {
    const tenant = await h.connectedTenant();
    const payment = await processingPayment(tenant);
    const locked = jest.spyOn(t.app.get(PaymentsRepository), 'lockByPaymentIntentId');

    await handlers.onChargeSucceeded(chargeSucceeded(payment, tenant), contextOf(tenant));

    expect(locked).not.toHaveBeenCalled();
    expect((await storedPayment(payment.id)).stripe_charge_id).toBe(payment.chargeId);
  });
});
