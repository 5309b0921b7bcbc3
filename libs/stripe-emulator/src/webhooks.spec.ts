import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { StripeEmulator } from './emulator';
import type { DeliveryRecord } from './webhook-delivery';

// Webhook endpoints and signed event delivery, received by a throwaway HTTP server.

interface ReceivedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A local HTTP server that records requests and responds with queued status codes (200 once the queue is empty). */
class WebhookReceiver {
  readonly received: ReceivedRequest[] = [];
  private readonly statuses = new Map<string, number[]>();
  private readonly server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      this.received.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = this.statuses.get(path)?.shift() ?? 200;
      response.writeHead(status, { 'Content-Type': 'text/plain' });
      response.end(status === 200 ? 'ok' : 'failing');
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Makes the next requests to `path` get these statuses, in order. */
  failNext(path: string, ...statuses: number[]): void {
    this.statuses.set(path, statuses);
  }

  at(path: string): ReceivedRequest[] {
    return this.received.filter((request) => request.path === path);
  }
}

let emulator: StripeEmulator;
let port: number;
let baseUrl: string;
const receiver = new WebhookReceiver();

beforeAll(async () => {
  emulator = new StripeEmulator({ port: 0, deliveryRetryDelaysMs: [20, 40], refundFailureDelayMs: 50 });
  ({ url: baseUrl, port } = await emulator.start());
  await receiver.start();
});

afterAll(async () => {
  await emulator.stop();
  await receiver.stop();
});

interface AccountKeys {
  id: string;
  test: { secretKey: string };
  live: { secretKey: string };
}

function client(key: string): Stripe {
  return new Stripe(key, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
}

async function control<T>(path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${baseUrl}/_emulator${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function newAccount(): Promise<{ id: string; stripe: Stripe; live: Stripe }> {
  const { body } = await control<AccountKeys>('/accounts', { displayName: 'Webhook test' });
  return { id: body.id, stripe: client(body.test.secretKey), live: client(body.live.secretKey) };
}

async function waitFor<T>(read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting; last value: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function deliveries(account: string): Promise<DeliveryRecord[]> {
  return (await control<{ data: DeliveryRecord[] }>(`/deliveries?account=${account}`)).body.data;
}

function verified(request: ReceivedRequest, secret: string): Stripe.Event {
  return Stripe.webhooks.constructEvent(request.body, request.headers['stripe-signature'] as string, secret);
}

async function paidIntent(stripe: Stripe): Promise<Stripe.PaymentIntent> {
  return stripe.paymentIntents.create(
    {
      amount: 4200,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: { classId: 'c-42' },
    },
    { idempotencyKey: `pay-${Date.now()}-${Math.random()}` },
  );
}

describe('webhook endpoints', () => {
  it('returns the signing secret only on create', async () => {
    const { stripe } = await newAccount();
    const endpoint = await stripe.webhookEndpoints.create({
      url: `${receiver.url}/secret-only-on-create`,
      enabled_events: ['payment_intent.succeeded'],
      api_version: Stripe.API_VERSION,
      description: 'Billing service',
      metadata: { tenant: 't-1' },
    });
    expect(endpoint.id).toMatch(/^we_/);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
    expect(endpoint.status).toBe('enabled');
    expect(endpoint.api_version).toBe(Stripe.API_VERSION);

    const fetched = await stripe.webhookEndpoints.retrieve(endpoint.id);
    expect(fetched.secret).toBeUndefined();
    expect(fetched.url).toBe(endpoint.url);
    const listed = await stripe.webhookEndpoints.list();
    expect(listed.data.map((item) => item.id)).toEqual([endpoint.id]);
    expect(listed.data[0].secret).toBeUndefined();

    const disabled = await stripe.webhookEndpoints.update(endpoint.id, { disabled: true });
    expect(disabled.status).toBe('disabled');
    const deleted = await stripe.webhookEndpoints.del(endpoint.id);
    expect(deleted).toMatchObject({ id: endpoint.id, deleted: true });
    await expect(stripe.webhookEndpoints.retrieve(endpoint.id)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('rejects an invalid URL', async () => {
    const { stripe } = await newAccount();
    await expect(stripe.webhookEndpoints.create({ url: 'not a url', enabled_events: ['*'] })).rejects.toMatchObject({
      statusCode: 400,
      code: 'url_invalid',
      param: 'url',
    });
  });
});

describe('event delivery', () => {
  it('delivers signed payment events that verify with the endpoint secret', async () => {
    const { id, stripe } = await newAccount();
    const path = '/signed';
    const endpoint = await stripe.webhookEndpoints.create({ url: `${receiver.url}${path}`, enabled_events: ['*'] });
    const intent = await paidIntent(stripe);

    const requests = await waitFor(
      () => receiver.at(path),
      (list) => list.length >= 3,
    );
    const events = requests.map((request) => verified(request, endpoint.secret as string));
    expect(events.map((event) => event.type).sort()).toEqual([
      'charge.succeeded',
      'payment_intent.created',
      'payment_intent.succeeded',
    ]);
    for (const request of requests) {
      expect(request.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(request.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    }
    const succeeded = events.find(
      (event) => event.type === 'payment_intent.succeeded',
    ) as Stripe.PaymentIntentSucceededEvent;
    expect(succeeded.id).toMatch(/^evt_/);
    expect(succeeded.object).toBe('event');
    expect(succeeded.api_version).toBe(Stripe.API_VERSION);
    expect(succeeded.livemode).toBe(false);
    expect(succeeded.data.object.id).toBe(intent.id);
    expect(succeeded.data.object.status).toBe('succeeded');
    expect(succeeded.data.object.metadata).toEqual({ classId: 'c-42' });
    expect(succeeded.request?.id).toMatch(/^req_/);
    expect(succeeded.request?.idempotency_key).toMatch(/^pay-/);

    expect(() =>
      Stripe.webhooks.constructEvent(
        requests[0].body,
        requests[0].headers['stripe-signature'] as string,
        'whsec_wrong',
      ),
    ).toThrow();

    const records = await waitFor(
      () => deliveries(id),
      (list) => list.every((delivery) => delivery.status === 'succeeded'),
    );
    expect(records).toHaveLength(3);
    expect(records[0]).toMatchObject({ url: `${receiver.url}${path}`, attempts: 1, status: 'succeeded' });

    const event = await stripe.events.retrieve(succeeded.id);
    expect(event.pending_webhooks).toBe(0);
  });

  it('sends only the enabled event types of the endpoint mode', async () => {
    const { stripe, live } = await newAccount();
    const path = '/filtered';
    await stripe.webhookEndpoints.create({ url: `${receiver.url}${path}`, enabled_events: ['charge.succeeded'] });
    await paidIntent(live);
    await paidIntent(stripe);

    await waitFor(
      () => receiver.at(path),
      (list) => list.length >= 1,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const types = receiver.at(path).map((request) => (JSON.parse(request.body) as Stripe.Event).type);
    expect(types).toEqual(['charge.succeeded']);
    expect((JSON.parse(receiver.at(path)[0].body) as Stripe.Event).livemode).toBe(false);
  });

  it('retries a failed delivery until the endpoint answers 2xx', async () => {
    const { id, stripe } = await newAccount();
    const path = '/flaky';
    receiver.failNext(path, 500, 503);
    await stripe.webhookEndpoints.create({ url: `${receiver.url}${path}`, enabled_events: ['payment_intent.created'] });
    await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });

    const [record] = await waitFor(
      () => deliveries(id),
      (list) => list[0]?.status === 'succeeded',
    );
    expect(record.attempts).toBe(3);
    expect(record.type).toBe('payment_intent.created');
    const bodies = receiver.at(path).map((request) => (JSON.parse(request.body) as Stripe.Event).id);
    expect(new Set(bodies).size).toBe(1);
  });

  it('marks a delivery failed after the last retry and resends it on request', async () => {
    const { id, stripe } = await newAccount();
    const path = '/down';
    receiver.failNext(path, 500, 500, 500);
    await stripe.webhookEndpoints.create({ url: `${receiver.url}${path}`, enabled_events: ['payment_intent.created'] });
    await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });

    const [failed] = await waitFor(
      () => deliveries(id),
      (list) => list[0]?.status === 'failed',
    );
    expect(failed.attempts).toBe(3);
    expect(failed.lastResponseStatus).toBe(500);

    const resend = await control<DeliveryRecord>(`/deliveries/${failed.id}/resend`, {});
    expect(resend.status).toBe(201);
    const [resent] = await waitFor(
      () => deliveries(id),
      (list) => list[0]?.status === 'succeeded',
    );
    expect(resent.attempts).toBe(4);
  });

  it('emits events given to the control API', async () => {
    const { id, stripe } = await newAccount();
    const path = '/custom';
    const endpoint = await stripe.webhookEndpoints.create({
      url: `${receiver.url}${path}`,
      enabled_events: ['invoice.paid'],
    });
    const created = await control<{ id: string }>('/events', {
      account: id,
      type: 'invoice.paid',
      object: { id: 'in_123', object: 'invoice', livemode: false },
    });
    expect(created.status).toBe(201);

    const [request] = await waitFor(
      () => receiver.at(path),
      (list) => list.length >= 1,
    );
    const event = verified(request, endpoint.secret as string);
    expect(event.id).toBe(created.body.id);
    expect(event.type).toBe('invoice.paid');
    expect(event.request).toEqual({ id: null, idempotency_key: null });
  });
});

describe('dashboard refunds', () => {
  it('emits refund.created, charge.refunded and refund.updated for a refund that succeeds', async () => {
    const { id, stripe } = await newAccount();
    const path = '/dashboard-ok';
    await stripe.webhookEndpoints.create({
      url: `${receiver.url}${path}`,
      enabled_events: ['refund.created', 'refund.updated', 'refund.failed', 'charge.refunded', 'charge.refund.updated'],
    });
    const intent = await paidIntent(stripe);

    const created = await control<Stripe.Refund>(`/accounts/${id}/dashboard/refunds`, {
      paymentIntent: intent.id,
      amount: 1200,
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('succeeded');

    const requests = await waitFor(
      () => receiver.at(path),
      (list) => list.length >= 3,
    );
    const types = requests.map((request) => (JSON.parse(request.body) as Stripe.Event).type).sort();
    expect(types).toEqual(['charge.refunded', 'refund.created', 'refund.updated']);
    const charge = await stripe.charges.retrieve(intent.latest_charge as string);
    expect(charge.amount_refunded).toBe(1200);
  });

  it('leaves a failing refund pending, then fails it and restores the charge', async () => {
    const { id, stripe } = await newAccount();
    const path = '/dashboard-failed';
    await stripe.webhookEndpoints.create({
      url: `${receiver.url}${path}`,
      enabled_events: ['refund.created', 'refund.updated', 'refund.failed', 'charge.refunded', 'charge.refund.updated'],
    });
    const intent = await paidIntent(stripe);

    const created = await control<Stripe.Refund>(`/accounts/${id}/dashboard/refunds`, {
      charge: intent.latest_charge,
      amount: 4200,
      outcome: 'failed',
    });
    expect(created.body.status).toBe('pending');

    const requests = await waitFor(
      () => receiver.at(path),
      (list) => list.length >= 5,
    );
    const events = requests.map((request) => JSON.parse(request.body) as Stripe.Event);
    expect(events.map((event) => event.type).sort()).toEqual([
      'charge.refund.updated',
      'charge.refunded',
      'refund.created',
      'refund.failed',
      'refund.updated',
    ]);
    const createdEvent = events.find((event) => event.type === 'refund.created') as Stripe.RefundCreatedEvent;
    expect(createdEvent.data.object.status).toBe('pending');
    expect(createdEvent.request?.id).toMatch(/^req_/);
    const failedEvent = events.find((event) => event.type === 'refund.failed') as Stripe.RefundFailedEvent;
    expect(failedEvent.data.object.status).toBe('failed');
    expect(failedEvent.data.object.failure_reason).toBe('expired_or_canceled_card');

    const refund = await stripe.refunds.retrieve(created.body.id);
    expect(refund.status).toBe('failed');
    const charge = await stripe.charges.retrieve(intent.latest_charge as string);
    expect(charge.amount_refunded).toBe(0);
    expect(charge.refunded).toBe(false);
  });

  it('rejects a refund for a charge of another account', async () => {
    const owner = await newAccount();
    const other = await newAccount();
    const intent = await paidIntent(owner.stripe);
    const response = await control(`/accounts/${other.id}/dashboard/refunds`, { paymentIntent: intent.id });
    expect(response.status).toBe(404);
  });
});

describe('stop', () => {
  it('cancels pending retries', async () => {
    const local = new StripeEmulator({ port: 0, deliveryRetryDelaysMs: [50] });
    const { port: localPort } = await local.start();
    const stripe = new Stripe('sk_test_stopcancelsretries0001', {
      host: '127.0.0.1',
      port: localPort,
      protocol: 'http',
    });
    const path = '/stop';
    receiver.failNext(path, 500, 500);
    await stripe.webhookEndpoints.create({ url: `${receiver.url}${path}`, enabled_events: ['payment_intent.created'] });
    await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await waitFor(
      () => receiver.at(path),
      (list) => list.length === 1,
    );

    await local.stop();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(receiver.at(path)).toHaveLength(1);
  });
});
