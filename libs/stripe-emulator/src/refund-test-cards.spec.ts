import Stripe from 'stripe';
import { StripeEmulator } from './emulator';

// Refund test cards, the lost-response fault and the request log, through the real
// stripe-node client against an in-process emulator.

const SETTLE_DELAY_MS = 50;

let emulator: StripeEmulator;
let port: number;
let baseUrl: string;

beforeAll(async () => {
  emulator = new StripeEmulator({ port: 0, faultTimeoutMs: 1_000, refundFailureDelayMs: SETTLE_DELAY_MS });
  ({ url: baseUrl, port } = await emulator.start());
});

afterAll(async () => {
  await emulator.stop();
});

let keyCounter = 0;
function freshKey(): string {
  keyCounter += 1;
  return `sk_test_${'R'.repeat(20)}${String(keyCounter).padStart(6, '0')}${Date.now()}`;
}

function client(key: string, config: Stripe.StripeConfig = {}): Stripe {
  return new Stripe(key, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0, ...config });
}

async function paidIntent(stripe: Stripe, paymentMethod: string, amount = 3000): Promise<Stripe.PaymentIntent> {
  return stripe.paymentIntents.create({ amount, currency: 'usd', payment_method: paymentMethod, confirm: true, allowed_payment_method_types: ['card'] });
}

async function settled(stripe: Stripe, refundId: string, status: string): Promise<Stripe.Refund> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const refund = await stripe.refunds.retrieve(refundId);
    if (refund.status === status) {
      return refund;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Refund ${refundId} did not become ${status}`);
}

async function eventTypes(stripe: Stripe, refundId: string): Promise<string[]> {
  const events = await stripe.events.list({ limit: 100 });

  return events.data
    .filter((event) => (event.data.object as { id?: string }).id === refundId)
    .map((event) => event.type)
    .reverse();
}

describe('refund test cards', () => {
  it('refunds a pm_card_pendingRefund charge as pending, then succeeded', async () => {
    const stripe = client(freshKey());
    const intent = await paidIntent(stripe, 'pm_card_pendingRefund');

    const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 1000 });

    expect(refund.status).toBe('pending');
    expect((await settled(stripe, refund.id, 'succeeded')).pending_reason).toBeUndefined();
    expect(await eventTypes(stripe, refund.id)).toEqual(['refund.created', 'refund.updated', 'charge.refund.updated']);
  });

  it('refunds a pm_card_refundFail charge as succeeded, then failed', async () => {
    const stripe = client(freshKey());
    const intent = await paidIntent(stripe, 'pm_card_refundFail');

    const refund = await stripe.refunds.create({ payment_intent: intent.id });
    const failed = await settled(stripe, refund.id, 'failed');
    const charge = await stripe.charges.retrieve(intent.latest_charge as string);

    expect(refund.status).toBe('succeeded');
    expect(failed.failure_reason).toBe('expired_or_canceled_card');
    expect(charge.amount_refunded).toBe(0);
  });

  it('emits refund.failed for a pm_card_refundFail refund', async () => {
    const stripe = client(freshKey());
    const intent = await paidIntent(stripe, 'pm_card_refundFail');

    const refund = await stripe.refunds.create({ payment_intent: intent.id });
    await settled(stripe, refund.id, 'failed');

    expect(await eventTypes(stripe, refund.id)).toEqual([
      'refund.created',
      'refund.updated',
      'refund.failed',
      'refund.updated',
      'charge.refund.updated',
    ]);
  });

  it('refunds a visa charge at once', async () => {
    const stripe = client(freshKey());
    const intent = await paidIntent(stripe, 'pm_card_visa');

    const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 500 });

    expect(refund.status).toBe('succeeded');
  });

  it.each([
    ['pm_card_visa_chargeDeclined', 'generic_decline'],
    ['pm_card_visa_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
    ['pm_card_visa_chargeDeclinedLostCard', 'lost_card'],
    ['pm_card_visa_chargeDeclinedStolenCard', 'stolen_card'],
  ])('declines %s with %s', async (paymentMethod, declineCode) => {
    const stripe = client(freshKey());

    const error = await paidIntent(stripe, paymentMethod).catch((caught: Stripe.errors.StripeCardError) => caught);

    expect((error as Stripe.errors.StripeCardError).decline_code).toBe(declineCode);
  });
});

describe('lost_response fault', () => {
  it('creates the PaymentIntent but never answers', async () => {
    const key = freshKey();
    const stripe = client(key, { timeout: 300 });
    await fetch(`${baseUrl}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ count: 1, kind: 'lost_response' }) });

    const error = await paidIntent(stripe, 'pm_card_visa').catch((caught: Stripe.errors.StripeError) => caught);
    const intents = await stripe.paymentIntents.list();

    expect((error as Stripe.errors.StripeError).type).toBe('StripeConnectionError');
    expect(intents.data).toHaveLength(1);
  });

  it('replays the created PaymentIntent to a retry with the same idempotency key', async () => {
    const stripe = client(freshKey(), { timeout: 300 });
    await fetch(`${baseUrl}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ count: 1, kind: 'lost_response' }) });
    const params = { amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, allowed_payment_method_types: ['card'] };

    await stripe.paymentIntents.create(params, { idempotencyKey: 'payment-1-create' }).catch(() => undefined);
    const retried = await stripe.paymentIntents.create(params, { idempotencyKey: 'payment-1-create' });
    const intents = await stripe.paymentIntents.list();

    expect(intents.data.map((intent) => intent.id)).toEqual([retried.id]);
  });
});

describe('request log', () => {
  it('records each /v1 request with its account and idempotency key', async () => {
    const stripe = client(freshKey());
    const intent = await paidIntent(stripe, 'pm_card_visa');
    const accountId = (await stripe.accounts.retrieveCurrent()).id;

    await stripe.refunds.create({ payment_intent: intent.id }, { idempotencyKey: 'refund-abc' });

    expect(emulator.apiRequests({ accountId }).map((record) => `${record.method} ${record.path} ${record.idempotencyKey ?? '-'}`)).toEqual([
      expect.stringMatching(/^POST \/v1\/payment_intents /),
      'GET /v1/account -',
      'POST /v1/refunds refund-abc',
    ]);
  });
});
