import Stripe from 'stripe';
import { StripeEmulator } from './emulator';

// Runs the real stripe-node client against an in-process emulator on a free port.

let emulator: StripeEmulator;
let port: number;
let baseUrl: string;

beforeAll(async () => {
  emulator = new StripeEmulator({ port: 0, faultTimeoutMs: 5000 });
  ({ url: baseUrl, port } = await emulator.start());
});

afterAll(async () => {
  await emulator.stop();
});

function client(key: string, config: Stripe.StripeConfig = {}): Stripe {
  return new Stripe(key, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0, ...config });
}

let keyCounter = 0;
/** Returns a well-formed secret key the emulator has not seen, so its first use registers a new account. */
function freshKey(mode: 'test' | 'live' = 'test'): string {
  keyCounter += 1;
  return `sk_${mode}_${'A'.repeat(20)}${String(keyCounter).padStart(6, '0')}${Date.now()}`;
}

async function control<T = Record<string, unknown>>(
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${baseUrl}/_emulator${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function rejection(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error('Expected the call to fail');
}

/** Returns the message exactly as the emulator sent it (StripeError.message adds the request id). */
function rawMessage(error: Stripe.errors.StripeError): string {
  return (error.raw as { message: string }).message;
}

interface AccountKeys {
  id: string;
  test: { publishableKey: string; secretKey: string };
  live: { publishableKey: string; secretKey: string };
}

describe('accounts and keys', () => {
  it('registers an account on first use of a new key', async () => {
    const stripe = client(freshKey());
    const account = await stripe.accounts.retrieveCurrent();
    expect(account.object).toBe('account');
    expect(account.id).toMatch(/^acct_[A-Za-z0-9]{16}$/);
    expect(account.type).toBe('standard');
    expect(account.charges_enabled).toBe(true);
    expect(account.settings?.dashboard.display_name).toBeNull();

    const again = await stripe.accounts.retrieveCurrent();
    expect(again.id).toBe(account.id);
  });

  it('creates accounts with key pairs through the control API', async () => {
    const created = await control<AccountKeys>('/accounts', { displayName: 'Yoga Studio', email: 'owner@example.com' });
    expect(created.status).toBe(201);
    expect(created.body.test.secretKey).toMatch(/^sk_test_/);
    expect(created.body.live.secretKey).toMatch(/^sk_live_/);
    expect(created.body.test.publishableKey).toMatch(/^pk_test_/);

    const account = await client(created.body.test.secretKey).accounts.retrieveCurrent();
    expect(account.id).toBe(created.body.id);
    expect(account.settings?.dashboard.display_name).toBe('Yoga Studio');
    expect(account.email).toBe('owner@example.com');

    const rolled = await control<{ secretKey: string }>(`/accounts/${created.body.id}/keys`, { mode: 'test' });
    expect(rolled.status).toBe(201);
    expect((await client(rolled.body.secretKey).accounts.retrieveCurrent()).id).toBe(created.body.id);
  });

  it('rejects unknown and malformed keys with 401', async () => {
    const unknownRestricted = await rejection(client('rk_test_abcdefghijklmnop1234').accounts.retrieveCurrent());
    expect(unknownRestricted.statusCode).toBe(401);
    expect(unknownRestricted.type).toBe('StripeAuthenticationError');
    expect(unknownRestricted.raw).toMatchObject({
      type: 'invalid_request_error',
      message: 'Invalid API Key provided: rk_test_****************1234',
    });

    const malformed = await rejection(client('sk_test_short').accounts.retrieveCurrent());
    expect(malformed.statusCode).toBe(401);
  });

  it('answers 401 api_key_expired for a revoked key', async () => {
    const key = freshKey();
    await client(key).accounts.retrieveCurrent();
    expect((await control('/keys/revoke', { key })).status).toBe(201);

    const error = await rejection(client(key).accounts.retrieveCurrent());
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe('api_key_expired');
    expect(rawMessage(error)).toBe(`Expired API Key provided: sk_test_${'*'.repeat(key.length - 12)}${key.slice(-4)}`);
  });

  it('limits restricted keys to their permissions with 403', async () => {
    const account = await control<AccountKeys>('/accounts', {});
    const restricted = await control<{ secretKey: string }>(`/accounts/${account.body.id}/keys`, {
      mode: 'test',
      restricted: true,
      permissions: ['payment_intents', 'charges:read'],
    });
    expect(restricted.body.secretKey).toMatch(/^rk_test_/);
    const stripe = client(restricted.body.secretKey);

    const intent = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect(intent.status).toBe('requires_payment_method');

    const denied = await rejection(stripe.webhookEndpoints.list());
    expect(denied.statusCode).toBe(403);
    expect(denied.type).toBe('StripePermissionError');
    expect(rawMessage(denied)).toContain(
      `does not have the required permissions for this endpoint on account '${account.body.id}'`,
    );
    expect(rawMessage(denied)).toContain(
      "Having the 'rak_webhook_read' permission would allow this request to continue.",
    );

    const refund = await rejection(stripe.refunds.create({ payment_intent: intent.id }));
    expect(refund.statusCode).toBe(403);
    expect(rawMessage(refund)).toContain("'rak_refund_write'");
  });
});

describe('payment intents', () => {
  it('succeeds with pm_card_visa and creates a paid charge', async () => {
    const stripe = client(freshKey());
    const intent = await stripe.paymentIntents.create({
      amount: 2500,
      currency: 'USD',
      payment_method: 'pm_card_visa',
      confirm: true,
      payment_method_types: ['card'],
      receipt_email: 'payer@example.com',
      description: 'Class pass',
      metadata: { classId: 'class-1', tenant: 't-1' },
      expand: ['latest_charge'],
    } as Stripe.PaymentIntentCreateParams);

    expect(intent.status).toBe('succeeded');
    expect(intent.currency).toBe('usd');
    expect(intent.amount_received).toBe(2500);
    expect(intent.client_secret).toMatch(new RegExp(`^${intent.id}_secret_`));
    expect(intent.metadata).toEqual({ classId: 'class-1', tenant: 't-1' });
    const charge = intent.latest_charge as Stripe.Charge;
    expect(charge.id).toMatch(/^ch_/);
    expect(charge.paid).toBe(true);
    expect(charge.status).toBe('succeeded');
    expect(charge.receipt_email).toBe('payer@example.com');
    expect(charge.receipt_url).toBe(`${baseUrl}/receipts/${charge.id}`);
    expect(charge.payment_method_details?.card?.brand).toBe('visa');
    expect(charge.payment_method_details?.card?.last4).toBe('4242');
    expect(charge.metadata).toEqual({ classId: 'class-1', tenant: 't-1' });

    const receipt = await fetch(charge.receipt_url as string);
    expect(receipt.status).toBe(200);
    expect(await receipt.text()).toContain('$25.00');

    const fetched = await stripe.charges.retrieve(charge.id);
    expect(fetched.payment_intent).toBe(intent.id);
  });

  it.each([
    ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
    ['pm_card_chargeDeclinedIncorrectCvc', 'incorrect_cvc', 'incorrect_cvc'],
    ['pm_card_chargeDeclinedProcessingError', 'processing_error', 'processing_error'],
    ['pm_card_chargeDeclinedLostCard', 'card_declined', 'lost_card'],
    ['pm_card_chargeDeclinedStolenCard', 'card_declined', 'stolen_card'],
    ['pm_card_chargeDeclinedFraudulent', 'card_declined', 'fraudulent'],
  ])('declines %s with %s / %s', async (paymentMethod, code, declineCode) => {
    const stripe = client(freshKey());
    const error = await rejection(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: paymentMethod,
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error.statusCode).toBe(402);
    expect(error.code).toBe(code);
    expect(error.decline_code).toBe(declineCode);
    expect(error.charge).toMatch(/^ch_/);
    const intent = error.payment_intent as Stripe.PaymentIntent;
    expect(intent.status).toBe('requires_payment_method');
    expect(intent.last_payment_error?.decline_code).toBe(declineCode);
    expect(intent.latest_charge).toBe(error.charge);

    const charge = await stripe.charges.retrieve(error.charge as string);
    expect(charge.status).toBe('failed');
    expect(charge.paid).toBe(false);
    expect(charge.failure_code).toBe(code);
  });

  it('requires action for pm_card_authenticationRequired', async () => {
    const stripe = client(freshKey());
    const intent = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'eur',
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
      payment_method_types: ['card'],
    } as Stripe.PaymentIntentCreateParams);
    expect(intent.status).toBe('requires_action');
    expect(intent.next_action?.type).toBe('use_stripe_sdk');
    expect(intent.next_action?.use_stripe_sdk).toBeDefined();
    expect(intent.latest_charge).toBeNull();

    const completed = await control<Stripe.PaymentIntent>(`/payment_intents/${intent.id}/authenticate`, {
      outcome: 'succeeded',
    });
    expect(completed.status).toBe(201);
    expect(completed.body.status).toBe('succeeded');
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('succeeded');
  });

  it('rejects a server-side confirm without return_url', async () => {
    const stripe = client(freshKey());
    const error = await rejection(
      stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }),
    );
    expect(error.statusCode).toBe(400);
    expect(error.type).toBe('StripeInvalidRequestError');
    expect(rawMessage(error)).toContain('you must provide a `return_url`');
    expect((await stripe.paymentIntents.list()).data).toHaveLength(0);

    const withReturnUrl = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      return_url: 'https://example.com/done',
    });
    expect(withReturnUrl.status).toBe('succeeded');
  });

  it('confirms, updates and lists intents', async () => {
    const stripe = client(freshKey());
    const created = await stripe.paymentIntents.create({
      amount: 1500,
      currency: 'usd',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: { keep: 'yes', drop: 'soon' },
    });
    expect(created.status).toBe('requires_payment_method');

    const updated = await stripe.paymentIntents.update(created.id, {
      payment_method: 'pm_card_mastercard',
      metadata: { drop: '' },
    });
    expect(updated.status).toBe('requires_confirmation');
    expect(updated.metadata).toEqual({ keep: 'yes' });

    const confirmed = await stripe.paymentIntents.confirm(created.id, { expand: ['payment_method'] });
    expect(confirmed.status).toBe('succeeded');
    expect((confirmed.payment_method as Stripe.PaymentMethod).card?.brand).toBe('mastercard');

    const again = await rejection(stripe.paymentIntents.confirm(created.id));
    expect(again.code).toBe('payment_intent_unexpected_state');

    await stripe.paymentIntents.create({ amount: 700, currency: 'usd' });
    const page = await stripe.paymentIntents.list({ limit: 1 });
    expect(page.object).toBe('list');
    expect(page.data).toHaveLength(1);
    expect(page.has_more).toBe(true);
    const next = await stripe.paymentIntents.list({ limit: 1, starting_after: page.data[0].id });
    expect(next.data[0].id).toBe(created.id);
    expect(next.has_more).toBe(false);
  });

  it('lists intents by a created range', async () => {
    const stripe = client(freshKey());
    const intent = await stripe.paymentIntents.create({ amount: 700, currency: 'usd' });

    const around = await stripe.paymentIntents.list({ created: { gte: intent.created - 60, lte: intent.created } });
    const before = await stripe.paymentIntents.list({ created: { lt: intent.created } });
    const after = await stripe.paymentIntents.list({ created: { gt: intent.created } });

    expect(around.data.map((found) => found.id)).toEqual([intent.id]);
    expect(before.data).toHaveLength(0);
    expect(after.data).toHaveLength(0);
  });

  it('captures a manual-capture intent', async () => {
    const stripe = client(freshKey());
    const intent = await stripe.paymentIntents.create({
      amount: 5000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      capture_method: 'manual',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    });
    expect(intent.status).toBe('requires_capture');
    expect(intent.amount_capturable).toBe(5000);

    const captured = await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 4000 });
    expect(captured.status).toBe('succeeded');
    expect(captured.amount_received).toBe(4000);
  });

  it('hides objects from other accounts and the other mode', async () => {
    const account = await control<AccountKeys>('/accounts', {});
    const intent = await client(account.body.test.secretKey).paymentIntents.create({ amount: 1000, currency: 'usd' });

    const live = await rejection(client(account.body.live.secretKey).paymentIntents.retrieve(intent.id));
    expect(live.statusCode).toBe(404);
    expect(live.code).toBe('resource_missing');
    expect(rawMessage(live)).toContain('a similar object exists in test mode, but a live mode key was used');

    const other = await rejection(client(freshKey()).paymentIntents.retrieve(intent.id));
    expect(other.statusCode).toBe(404);
    expect(rawMessage(other)).toBe(`No such payment_intent: '${intent.id}'`);
  });
});

describe('wire format', () => {
  it('accepts Basic auth and bracket-encoded form bodies', async () => {
    const key = freshKey();
    const response = await fetch(`${baseUrl}/v1/payment_intents`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body:
        'amount=1000&currency=usd&metadata%5BclassId%5D=c-1&payment_method_types%5B0%5D=card' +
        '&payment_method=pm_card_visa&confirm=true&expand[]=latest_charge',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    const intent = (await response.json()) as Stripe.PaymentIntent;
    expect(intent.metadata).toEqual({ classId: 'c-1' });
    expect(intent.payment_method_types).toEqual(['card']);
    expect((intent.latest_charge as Stripe.Charge).object).toBe('charge');
  });

  it('answers 401 without a key and 404 for unknown paths', async () => {
    const missing = await fetch(`${baseUrl}/v1/account`);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain(
      'You did not provide an API key',
    );

    const unknown = await fetch(`${baseUrl}/v1/wobbles`, { headers: { Authorization: `Bearer ${freshKey()}` } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain(
      'Unrecognized request URL (GET: /v1/wobbles)',
    );
  });

  it('reports health on the control API', async () => {
    expect(await control('/health')).toEqual({ status: 200, body: { ok: true } });
  });
});

describe('request validation', () => {
  it('rejects unknown parameters with parameter_unknown', async () => {
    const stripe = client(freshKey());
    const error = await rejection(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        colour: 'blue',
      } as Stripe.PaymentIntentCreateParams),
    );
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('parameter_unknown');
    expect(error.param).toBe('colour');
    expect(rawMessage(error)).toBe('Received unknown parameter: colour');

    const nested = await rejection(
      stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        automatic_payment_methods: { enabled: true, wobble: true },
      } as unknown as Stripe.PaymentIntentCreateParams),
    );
    expect(nested.param).toBe('automatic_payment_methods[wobble]');
  });

  it('rejects missing and invalid amounts', async () => {
    const stripe = client(freshKey());
    const missing = await rejection(
      stripe.paymentIntents.create({ currency: 'usd' } as Stripe.PaymentIntentCreateParams),
    );
    expect(missing.code).toBe('parameter_missing');
    expect(missing.param).toBe('amount');

    const tooSmall = await rejection(stripe.paymentIntents.create({ amount: 10, currency: 'usd' }));
    expect(tooSmall.code).toBe('amount_too_small');
  });
});

describe('idempotency', () => {
  it('replays the stored response for the same key and parameters', async () => {
    const key = freshKey();
    const params = { amount: 1200, currency: 'usd' };
    const first = await client(key).paymentIntents.create(params, { idempotencyKey: 'order-1' });
    const second = await client(key).paymentIntents.create(params, { idempotencyKey: 'order-1' });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect((await client(key).paymentIntents.list()).data).toHaveLength(1);
  });

  it('replays a card decline for the same key', async () => {
    const key = freshKey();
    const params: Stripe.PaymentIntentCreateParams = {
      amount: 1200,
      currency: 'usd',
      payment_method: 'pm_card_chargeDeclined',
      confirm: true,
      payment_method_types: ['card'],
    } as Stripe.PaymentIntentCreateParams;
    const first = await rejection(client(key).paymentIntents.create(params, { idempotencyKey: 'decline-1' }));
    const second = await rejection(client(key).paymentIntents.create(params, { idempotencyKey: 'decline-1' }));
    expect(second.statusCode).toBe(402);
    expect(second.charge).toBe(first.charge);
    expect(second.headers?.['idempotent-replayed']).toBe('true');
  });

  it('rejects the same key with different parameters', async () => {
    const stripe = client(freshKey());
    await stripe.paymentIntents.create({ amount: 1200, currency: 'usd' }, { idempotencyKey: 'order-2' });
    const error = await rejection(
      stripe.paymentIntents.create({ amount: 1300, currency: 'usd' }, { idempotencyKey: 'order-2' }),
    );
    expect(error.statusCode).toBe(400);
    expect(error.type).toBe('StripeIdempotencyError');
    expect(error.rawType).toBe('idempotency_error');
    expect(rawMessage(error)).toContain('Keys for idempotent requests can only be used with the same parameters');
  });

  it('keeps keys apart per account', async () => {
    const params = { amount: 1200, currency: 'usd' };
    const first = await client(freshKey()).paymentIntents.create(params, { idempotencyKey: 'shared' });
    const second = await client(freshKey()).paymentIntents.create(params, { idempotencyKey: 'shared' });
    expect(second.id).not.toBe(first.id);
  });
});

describe('injected faults', () => {
  it('answers 500 for the next requests and lets a retry through', async () => {
    const key = freshKey();
    await client(key).accounts.retrieveCurrent();
    expect((await control('/faults', { count: 1, kind: '500' })).status).toBe(201);
    const error = await rejection(client(key).accounts.retrieveCurrent());
    expect(error.statusCode).toBe(500);
    expect(error.type).toBe('StripeAPIError');

    await control('/faults', { count: 1, kind: '500' });
    const retried = await client(key, { maxNetworkRetries: 1 }).paymentIntents.create({ amount: 900, currency: 'usd' });
    expect(retried.status).toBe('requires_payment_method');
    expect((await client(key).paymentIntents.list()).data).toHaveLength(1);
  });

  it.each([
    ['/faults', { count: 1, kind: '500', acount: 'acct_x' }, 'acount'],
    ['/keys/revoke', { key: 'sk_test_x', reason: 'leaked' }, 'reason'],
    ['/accounts', { email: 'a@example.com', name: 'Acme' }, 'name'],
    ['/events', { account: 'acct_x', type: 'charge.succeeded', object: {}, delay: 5 }, 'delay'],
    ['/deliveries/evt_x/resend', { force: true }, 'force'],
  ])('rejects %s with an unknown field', async (path, body, field) => {
    const response = await control(path, body);

    expect(response.status).toBe(400);
    expect((response.body as { error: { message: string } }).error.message).toContain(`Unknown field ${field}`);
  });

  it.each([
    ['/faults', '{"count":1,"kind":"500","count":0}', 'count'],
    ['/settings', '{"rejectLocalEndpointUrls":true,"rejectLocalEndpointUrls":false}', 'rejectLocalEndpointUrls'],
    ['/events', '{"account":"acct_x","type":"charge.succeeded","object":{"id":"ch_1","\\u0069d":"ch_2"}}', 'object.id'],
  ])('rejects %s with a duplicate key', async (path, text, key) => {
    const response = await fetch(`${baseUrl}/_emulator${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: text });
    const body = (await response.json()) as { error: { message: string } };

    expect(response.status).toBe(400);
    expect(body.error.message).toBe(`Duplicate key ${key}; send each key once.`);
  });

  it('rejects a delivery list filter it does not know', async () => {
    const response = await control('/deliveries?acount=acct_x');

    expect(response.status).toBe(400);
    expect((response.body as { error: { message: string } }).error.message).toBe('Unknown query parameter acount; expected account or eventId.');
  });

  it('answers 429 rate_limit', async () => {
    const key = freshKey();
    await control('/faults', { count: 1, kind: '429' });
    const error = await rejection(client(key).accounts.retrieveCurrent());
    expect(error.statusCode).toBe(429);
    expect(error.type).toBe('StripeRateLimitError');
    expect(error.code).toBe('rate_limit');
    await expect(client(key).accounts.retrieveCurrent()).resolves.toHaveProperty('object', 'account');
  });

  it('gives an account\'s fault to that account only', async () => {
    const [mine, other] = [freshKey(), freshKey()];
    const account = await client(mine).accounts.retrieveCurrent();
    await client(other).accounts.retrieveCurrent();

    expect((await control('/faults', { count: 1, kind: '500', account: account.id })).status).toBe(201);
    await expect(client(other).accounts.retrieveCurrent()).resolves.toHaveProperty('object', 'account');
    expect((await rejection(client(mine).accounts.retrieveCurrent())).statusCode).toBe(500);
    await expect(client(mine).accounts.retrieveCurrent()).resolves.toHaveProperty('object', 'account');
  });

  it('rejects a fault for an unknown account', async () => {
    const response = await control<{ error: { message: string } }>('/faults', { count: 1, kind: '500', account: 'acct_missing' });

    expect(response.status).toBe(400);
    expect(response.body.error.message).toMatch(/^Invalid account/);
  });

  it('holds a request without answering for a timeout fault', async () => {
    await control('/faults', { count: 1, kind: 'timeout' });
    const error = await rejection(client(freshKey(), { timeout: 300 }).accounts.retrieveCurrent());
    expect(error.type).toBe('StripeConnectionError');
  });
});

describe('refunds', () => {
  async function paidIntent(stripe: Stripe, amount = 3000): Promise<Stripe.PaymentIntent> {
    return stripe.paymentIntents.create({
      amount,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    });
  }

  it('refunds partially, then the rest, then refuses more', async () => {
    const stripe = client(freshKey());
    const intent = await paidIntent(stripe);

    const partial = await stripe.refunds.create({
      payment_intent: intent.id,
      amount: 1000,
      reason: 'requested_by_customer',
    });
    expect(partial.status).toBe('succeeded');
    expect(partial.amount).toBe(1000);
    expect(partial.charge).toBe(intent.latest_charge);

    const tooLarge = await rejection(stripe.refunds.create({ payment_intent: intent.id, amount: 2500 }));
    expect(tooLarge.code).toBe('amount_too_large');
    expect(rawMessage(tooLarge)).toBe('Refund amount ($25.00) is greater than unrefunded amount on charge ($20.00)');

    const rest = await stripe.refunds.create({ charge: intent.latest_charge as string });
    expect(rest.amount).toBe(2000);
    const charge = await stripe.charges.retrieve(intent.latest_charge as string);
    expect(charge.amount_refunded).toBe(3000);
    expect(charge.refunded).toBe(true);

    const again = await rejection(stripe.refunds.create({ payment_intent: intent.id }));
    expect(again.code).toBe('charge_already_refunded');

    const listed = await stripe.refunds.list({ payment_intent: intent.id });
    expect(listed.data.map((refund) => refund.id)).toEqual([rest.id, partial.id]);
    expect((await stripe.refunds.retrieve(partial.id)).amount).toBe(1000);
  });
});
