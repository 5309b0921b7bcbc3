import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { StripeEmulator } from './emulator';

// The control API's delivery tricks: duplicates, concurrency, delays, held and reordered
// deliveries, two v1 signatures during a secret roll, and Stripe's refusal of local URLs.

interface ReceivedRequest {
  path: string;
  signature: string;
  eventId: string;
  type: string;
  body: string;
  arrivedAt: number;
}

/** Records deliveries; can hold its responses until a number of requests are in flight at once. */
class Receiver {
  readonly received: ReceivedRequest[] = [];
  maxInFlight = 0;
  private inFlight = 0;
  private readonly server = http.createServer((request, response) => {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const event = JSON.parse(body) as { id: string; type: string };
      this.received.push({
        path: request.url ?? '/',
        signature: String(request.headers['stripe-signature']),
        eventId: event.id,
        type: event.type,
        body,
        arrivedAt: Date.now(),
      });
      // Respond a little later, so requests sent together overlap here.
      setTimeout(() => {
        this.inFlight--;
        response.writeHead(200).end('ok');
      }, 30);
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

  at(path: string): ReceivedRequest[] {
    return this.received.filter((request) => request.path === path);
  }
}

let emulator: StripeEmulator;
let port: number;
let baseUrl: string;
const receiver = new Receiver();

beforeAll(async () => {
  emulator = new StripeEmulator({ port: 0, deliveryRetryDelaysMs: [20, 40] });
  ({ url: baseUrl, port } = await emulator.start());
  await receiver.start();
});

afterAll(async () => {
  await emulator.stop();
  await receiver.stop();
});

async function control<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${baseUrl}/_emulator${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** Create an account with an endpoint at `path` for every event type. */
async function accountWithEndpoint(path: string): Promise<{ account: string; stripe: Stripe; endpoint: Stripe.WebhookEndpoint }> {
  const { body } = await control<{ id: string; test: { secretKey: string } }>('/accounts', {});
  const stripe = new Stripe(body.test.secretKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
  const endpoint = await stripe.webhookEndpoints.create({ url: `${receiver.url}${path}`, enabled_events: ['*'] });
  return { account: body.id, stripe, endpoint };
}

async function emit(account: string, type: string, delivery?: object): Promise<{ status: number; body: { id: string } }> {
  return control<{ id: string }>('/events', { account, type, object: { id: `cus_${Date.now()}`, object: 'customer' }, delivery });
}

async function waitFor<T>(read: () => T, done: (value: T) => boolean, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (done(value)) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting; last value: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function v1Entries(signature: string): string[] {
  return signature
    .split(',')
    .filter((entry) => entry.startsWith('v1='))
    .map((entry) => entry.slice(3));
}

function hmac(secret: string, signature: string, body: string): string {
  const timestamp = /t=(\d+)/.exec(signature)?.[1];
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

describe('delivery options of an emitted event', () => {
  it('delivers one event twice, one after the other', async () => {
    const { account } = await accountWithEndpoint('/twice');

    const { body: event } = await emit(account, 'customer.updated', { copies: 2 });

    const requests = await waitFor(() => receiver.at('/twice'), (list) => list.length === 2);
    expect(requests.map((request) => request.eventId)).toEqual([event.id, event.id]);
    expect(requests[1].arrivedAt).toBeGreaterThanOrEqual(requests[0].arrivedAt + 25);
  });

  it('delivers copies concurrently', async () => {
    const { account } = await accountWithEndpoint('/concurrent');
    receiver.maxInFlight = 0;

    await emit(account, 'customer.updated', { copies: 5, concurrent: true });

    await waitFor(() => receiver.at('/concurrent'), (list) => list.length === 5);
    expect(receiver.maxInFlight).toBeGreaterThanOrEqual(2);
  });

  it('delays the first attempt', async () => {
    const { account } = await accountWithEndpoint('/delayed');
    const sentAt = Date.now();

    await emit(account, 'customer.updated', { delayMs: 300 });

    const [request] = await waitFor(() => receiver.at('/delayed'), (list) => list.length === 1);
    expect(request.arrivedAt - sentAt).toBeGreaterThanOrEqual(290);
  });

  it('rejects an unknown delivery option', async () => {
    const { account } = await accountWithEndpoint('/unknown-option');

    const response = await emit(account, 'customer.updated', { copies: 2, order: 'reverse' });

    expect(response.status).toBe(400);
  });

  it('rejects too many copies', async () => {
    const { account } = await accountWithEndpoint('/too-many');

    const response = await emit(account, 'customer.updated', { copies: 21 });

    expect(response.status).toBe(400);
  });
});

describe('held deliveries', () => {
  it('sends held deliveries in reverse order on release', async () => {
    const { account } = await accountWithEndpoint('/reverse');
    await control('/deliveries/hold', { account });
    const first = (await emit(account, 'customer.created')).body.id;
    const second = (await emit(account, 'customer.updated')).body.id;
    const third = (await emit(account, 'customer.deleted')).body.id;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.at('/reverse')).toHaveLength(0);

    const released = await control<{ data: { eventId: string }[] }>('/deliveries/release', { account, order: 'reverse' });

    expect(released.body.data.map((delivery) => delivery.eventId)).toEqual([third, second, first]);
    const requests = await waitFor(() => receiver.at('/reverse'), (list) => list.length === 3);
    expect(requests.map((request) => request.eventId)).toEqual([third, second, first]);
  });

  it('holds the events a real payment emits', async () => {
    const { account, stripe } = await accountWithEndpoint('/payment-held');
    await control('/deliveries/hold', { account });
    await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    });

    const released = await control<{ data: { type: string }[] }>('/deliveries/release', { account, order: 'reverse' });

    expect(released.body.data.map((delivery) => delivery.type)).toEqual(['payment_intent.succeeded', 'charge.succeeded', 'payment_intent.created']);
  });

  it('delivers at once again after a release', async () => {
    const { account } = await accountWithEndpoint('/after-release');
    await control('/deliveries/hold', { account });
    await control('/deliveries/release', { account });

    await emit(account, 'customer.updated');

    await waitFor(() => receiver.at('/after-release'), (list) => list.length === 1);
  });

  it('rejects an unknown release order', async () => {
    const { account } = await accountWithEndpoint('/bad-order');

    const response = await control('/deliveries/release', { account, order: 'sideways' });

    expect(response.status).toBe(400);
  });
});

describe('secret roll', () => {
  it('signs with the new and the old secret until the old one expires', async () => {
    const { account, endpoint } = await accountWithEndpoint('/rolled');

    const rolled = await control<{ secret: string; previousSecretExpiresAt: string }>(`/webhook_endpoints/${endpoint.id}/roll_secret`, {});
    await emit(account, 'customer.updated');

    const [request] = await waitFor(() => receiver.at('/rolled'), (list) => list.length === 1);
    expect(rolled.body.secret).toMatch(/^whsec_/);
    expect(v1Entries(request.signature)).toEqual([hmac(rolled.body.secret, request.signature, request.body), hmac(endpoint.secret as string, request.signature, request.body)]);
    expect(Stripe.webhooks.constructEvent(request.body, request.signature, rolled.body.secret).type).toBe('customer.updated');
    expect(Stripe.webhooks.constructEvent(request.body, request.signature, endpoint.secret as string).type).toBe('customer.updated');
  });

  it('signs with the new secret alone once the old one expired', async () => {
    const { account, endpoint } = await accountWithEndpoint('/rolled-expired');

    const rolled = await control<{ secret: string }>(`/webhook_endpoints/${endpoint.id}/roll_secret`, { expiresInSeconds: 0 });
    await emit(account, 'customer.updated');

    const [request] = await waitFor(() => receiver.at('/rolled-expired'), (list) => list.length === 1);
    expect(v1Entries(request.signature)).toEqual([hmac(rolled.body.secret, request.signature, request.body)]);
  });

  it('answers 404 for an unknown endpoint', async () => {
    const response = await control('/webhook_endpoints/we_missing/roll_secret', {});

    expect(response.status).toBe(404);
  });
});

describe('local endpoint URLs', () => {
  afterEach(async () => {
    await control('/settings', { rejectLocalEndpointUrls: false });
  });

  it('are refused like Stripe does once the setting is on', async () => {
    const { stripe } = await accountWithEndpoint('/setting-off');
    await control('/settings', { rejectLocalEndpointUrls: true });

    await expect(stripe.webhookEndpoints.create({ url: 'http://localhost:3000/webhooks/stripe/wh_x', enabled_events: ['*'] })).rejects.toMatchObject({
      statusCode: 400,
      code: 'url_invalid',
      param: 'url',
    });
  });

  it('still accept a public URL with the setting on', async () => {
    const { stripe } = await accountWithEndpoint('/setting-public');
    await control('/settings', { rejectLocalEndpointUrls: true });

    await expect(stripe.webhookEndpoints.create({ url: 'https://billing.example.com/webhooks/stripe/wh_x', enabled_events: ['*'] })).resolves.toMatchObject({
      object: 'webhook_endpoint',
    });
  });
});
