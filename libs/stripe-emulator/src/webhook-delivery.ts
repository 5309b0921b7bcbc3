import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { EmulatorEvent } from './events';
import { newId, nowSeconds } from './ids';
import type { EmulatorLogger } from './logger';
import { TimerSet } from './timers';

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** One event sent to one webhook endpoint, with its attempts so far. */
export interface DeliveryRecord {
  id: string;
  eventId: string;
  type: string;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  account: string;
  endpointId: string;
  livemode: boolean;
  /** HTTP status of the last attempt, or null when it got no response. */
  lastResponseStatus: number | null;
  lastError: string | null;
  createdAt: string;
  nextAttemptAt: string | null;
}

/** The endpoint settings an attempt reads at the time it runs. */
export interface DeliveryEndpoint {
  url: string;
  secret: string;
  apiVersion: string | null;
  enabled: boolean;
}

export interface WebhookDispatcherOptions {
  /** Waits between attempts in milliseconds. A delivery fails for good after `retryDelaysMs.length + 1` attempts. */
  retryDelaysMs: readonly number[];
  /** How long an attempt waits for the endpoint's response. */
  timeoutMs: number;
  logger: EmulatorLogger;
  findEvent: (id: string) => EmulatorEvent | undefined;
  /** Returns the endpoint as it is now, or undefined once it is deleted. */
  findEndpoint: (id: string) => DeliveryEndpoint | undefined;
  /** Called once per delivery, on its first successful attempt. */
  onDelivered: (event: EmulatorEvent) => void;
}

interface AttemptResult {
  statusCode: number | null;
  error: string | null;
}

/** Delivery options of the next emitted event, for tests of a receiver's edge cases. */
export interface DeliveryOptions {
  /** Deliveries per endpoint, each a POST of the same event: 2 delivers it twice. Default 1. */
  copies?: number;
  /** Send the copies at the same moment instead of one after another's response. */
  concurrent?: boolean;
  /** Wait this long before the first attempt. */
  delayMs?: number;
}

/** The order `release` sends held deliveries in. */
export type ReleaseOrder = 'sent' | 'reverse' | 'shuffle';

/** A signing secret replaced by a roll, still signing deliveries until it expires, as Stripe does. */
interface RolledSecret {
  secret: string;
  expiresAt: number;
}

/** Computes the `Stripe-Signature` header Stripe sends: `t=<seconds>,v1=<HMAC-SHA256 hex>`. */
export function signPayload(payload: string, secret: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmacHex(payload, secret, timestamp)}`;
}

/**
 * Computes the header of a delivery during a secret roll: one `v1` entry per
 * secret, the current secret's first, as Stripe signs while an old secret has
 * not expired yet.
 */
export function signPayloadWithSecrets(payload: string, secrets: readonly string[], timestamp: number): string {
  return [`t=${timestamp}`, ...secrets.map((secret) => `v1=${hmacHex(payload, secret, timestamp)}`)].join(',');
}

function hmacHex(payload: string, secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
}

/**
 * Sends events to webhook endpoints the way Stripe does: one POST per event and endpoint,
 * signed with the endpoint's secret, retried on a non-2xx response or a connection error.
 * Attempts always run from timers, never inside the API request that caused the event.
 */
export class WebhookDispatcher {
  private readonly deliveries = new Map<string, DeliveryRecord>();
  private readonly timers = new TimerSet();
  private readonly inFlight = new Set<http.ClientRequest>();
  // Bumped by a manual resend so that a retry timer scheduled earlier does not fire as well.
  private readonly generations = new Map<string, number>();
  /** Accounts whose new deliveries wait for `release`, with the deliveries held so far in the order they were sent. */
  private readonly held = new Map<string, DeliveryRecord[]>();
  private readonly rolledSecrets = new Map<string, RolledSecret>();
  private nextDeliveryOptions: DeliveryOptions | null = null;
  /**
   * Makes endpoint registration reject URLs on localhost and loopback
   * addresses, as Stripe does; off by default so tests can receive deliveries.
   */
  rejectLocalEndpointUrls = false;

  constructor(private readonly options: WebhookDispatcherOptions) {}

  /**
   * Runs `emit` (which enqueues the deliveries of one event) with delivery
   * options for those deliveries only. `emit` must enqueue synchronously.
   */
  withDeliveryOptions<T>(options: DeliveryOptions, emit: () => T): T {
    this.nextDeliveryOptions = options;
    try {
      return emit();
    } finally {
      this.nextDeliveryOptions = null;
    }
  }

  /** Holds every delivery to the account's endpoints from now on, until `release`. */
  hold(account: string): void {
    if (!this.held.has(account)) {
      this.held.set(account, []);
    }
  }

  /**
   * Stops holding the account's deliveries and sends the held ones in the
   * given order, each after the previous one's response, so the receiver gets
   * them in exactly that order. Returns the deliveries in release order; a
   * failed attempt is retried on the usual schedule.
   */
  release(account: string, order: ReleaseOrder): DeliveryRecord[] {
    const deliveries = [...(this.held.get(account) ?? [])];
    this.held.delete(account);
    if (order === 'reverse') {
      deliveries.reverse();
    } else if (order === 'shuffle') {
      for (let i = deliveries.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
      }
    }

    this.timers.schedule(0, () => void this.attemptInTurn(deliveries));

    return deliveries;
  }

  /**
   * Signs deliveries to an endpoint with `previousSecret` too, until
   * `expiresAt` (milliseconds since the epoch): Stripe's overlap after a
   * secret roll, when each delivery carries two `v1` signatures.
   */
  rememberRolledSecret(endpointId: string, previousSecret: string, expiresAt: number): void {
    this.rolledSecrets.set(endpointId, { secret: previousSecret, expiresAt });
  }

  enqueue(account: string, event: EmulatorEvent, endpointId: string, url: string): DeliveryRecord {
    const options = this.nextDeliveryOptions ?? {};
    const copies = Math.max(1, options.copies ?? 1);
    const deliveries = Array.from({ length: copies }, () => this.record(account, event, endpointId, url));
    const held = this.held.get(account);
    if (held) {
      held.push(...deliveries);
      for (const delivery of deliveries) {
        delivery.nextAttemptAt = null;
      }

      return deliveries[0];
    }

    const delayMs = options.delayMs ?? 0;
    if (copies === 1 || options.concurrent) {
      for (const delivery of deliveries) {
        this.scheduleAttempt(delivery, delayMs);
      }
    } else {
      this.timers.schedule(delayMs, () => void this.attemptInTurn(deliveries));
    }

    return deliveries[0];
  }

  private record(account: string, event: EmulatorEvent, endpointId: string, url: string): DeliveryRecord {
    const delivery: DeliveryRecord = {
      id: newId('whdel'),
      eventId: event.id,
      type: event.type,
      url,
      status: 'pending',
      attempts: 0,
      account,
      endpointId,
      livemode: event.livemode,
      lastResponseStatus: null,
      lastError: null,
      createdAt: new Date().toISOString(),
      nextAttemptAt: new Date().toISOString(),
    };
    this.deliveries.set(delivery.id, delivery);
    return delivery;
  }

  /** Attempts deliveries one after another, each once the previous one's attempt has finished. */
  private async attemptInTurn(deliveries: readonly DeliveryRecord[]): Promise<void> {
    for (const delivery of deliveries) {
      if (this.timers.isCancelled) {
        return;
      }
      this.generations.set(delivery.id, (this.generations.get(delivery.id) ?? 0) + 1);
      await this.attempt(delivery);
    }
  }

  list(filter: { account?: string; eventId?: string } = {}): DeliveryRecord[] {
    return [...this.deliveries.values()].filter(
      (delivery) =>
        (filter.account === undefined || delivery.account === filter.account) &&
        (filter.eventId === undefined || delivery.eventId === filter.eventId),
    );
  }

  get(id: string): DeliveryRecord | undefined {
    return this.deliveries.get(id);
  }

  /** Attempts a delivery again now, like the Dashboard's "Resend". A pending automatic retry is replaced. */
  resend(delivery: DeliveryRecord): void {
    delivery.status = 'pending';
    this.scheduleAttempt(delivery, 0);
  }

  /** Cancels every pending attempt and aborts requests in flight. */
  stop(): void {
    this.timers.cancelAll();
    for (const request of this.inFlight) {
      request.destroy();
    }
    this.inFlight.clear();
  }

  private scheduleAttempt(delivery: DeliveryRecord, delayMs: number): void {
    const generation = (this.generations.get(delivery.id) ?? 0) + 1;
    this.generations.set(delivery.id, generation);
    delivery.nextAttemptAt = new Date(Date.now() + delayMs).toISOString();
    this.timers.schedule(delayMs, () => {
      if (this.generations.get(delivery.id) === generation) {
        void this.attempt(delivery);
      }
    });
  }

  private async attempt(delivery: DeliveryRecord): Promise<void> {
    const event = this.options.findEvent(delivery.eventId);
    const endpoint = this.options.findEndpoint(delivery.endpointId);
    delivery.nextAttemptAt = null;
    if (!event || !endpoint || !endpoint.enabled) {
      delivery.status = 'failed';
      delivery.lastError = endpoint
        ? `endpoint ${delivery.endpointId} is disabled`
        : `endpoint ${delivery.endpointId} was deleted`;
      this.options.logger.warn(`Webhook delivery ${delivery.id} of ${delivery.eventId} stopped: ${delivery.lastError}`);
      return;
    }

    delivery.attempts += 1;
    delivery.url = endpoint.url;
    const payload = JSON.stringify({ ...event, api_version: endpoint.apiVersion ?? event.api_version }, null, 2);
    const result = await this.post(endpoint.url, payload, signPayloadWithSecrets(payload, this.signingSecrets(delivery.endpointId, endpoint), nowSeconds()));
    if (this.timers.isCancelled) {
      return;
    }
    delivery.lastResponseStatus = result.statusCode;
    delivery.lastError = result.error;

    if (result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300) {
      const firstSuccess = delivery.status !== 'succeeded';
      delivery.status = 'succeeded';
      if (firstSuccess) {
        this.options.onDelivered(event);
      }
      return;
    }

    const outcome = result.statusCode !== null ? `HTTP ${result.statusCode}` : result.error;
    const retryDelay = this.options.retryDelaysMs[delivery.attempts - 1];
    if (retryDelay === undefined) {
      delivery.status = 'failed';
      this.options.logger.error(
        `Webhook delivery ${delivery.id} of ${event.id} (${event.type}) to endpoint ${delivery.endpointId} ` +
          `failed with ${outcome} after ${delivery.attempts} attempts; giving up`,
      );
      return;
    }
    delivery.status = 'pending';
    this.options.logger.warn(
      `Webhook delivery ${delivery.id} of ${event.id} (${event.type}) to endpoint ${delivery.endpointId} ` +
        `failed with ${outcome} on attempt ${delivery.attempts}; retrying in ${retryDelay} ms`,
    );
    this.scheduleAttempt(delivery, retryDelay);
  }

  /** Return the endpoint's secret, then a rolled one that has not expired yet. */
  private signingSecrets(endpointId: string, endpoint: DeliveryEndpoint): string[] {
    const rolled = this.rolledSecrets.get(endpointId);
    if (!rolled) {
      return [endpoint.secret];
    }
    if (rolled.expiresAt <= Date.now()) {
      this.rolledSecrets.delete(endpointId);
      return [endpoint.secret];
    }
    return [endpoint.secret, rolled.secret];
  }

  private post(url: string, payload: string, signature: string): Promise<AttemptResult> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        resolve({ statusCode: null, error: 'invalid URL' });
        return;
      }
      const client = target.protocol === 'https:' ? https : http;
      const body = Buffer.from(payload, 'utf8');
      const request = client.request(target, {
        method: 'POST',
        agent: false,
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': body.length,
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'Cache-Control': 'no-cache',
          Accept: '*/*; q=0.5, application/xml',
          'Stripe-Signature': signature,
        },
      });
      this.inFlight.add(request);
      let settled = false;
      const finish = (result: AttemptResult): void => {
        if (settled) {
          return;
        }
        settled = true;
        this.inFlight.delete(request);
        resolve(result);
      };
      request.setTimeout(this.options.timeoutMs, () => {
        request.destroy(new Error(`timed out after ${this.options.timeoutMs} ms`));
      });
      let responseStatus: number | null = null;
      request.on('response', (response) => {
        responseStatus = response.statusCode ?? null;
        // Drain the body: Stripe ignores it, but the socket must be read to completion.
        response.resume();
        response.on('end', () => finish({ statusCode: response.statusCode ?? null, error: null }));
        response.on('error', (error) => finish({ statusCode: null, error: error.message }));
      });
      request.on('error', (error) => finish({ statusCode: null, error: error.message }));
      request.on('close', () =>
        finish(
          responseStatus !== null
            ? { statusCode: responseStatus, error: null }
            : { statusCode: null, error: 'connection closed before a response' },
        ),
      );
      request.end(body);
    });
  }
}
