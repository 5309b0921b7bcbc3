import { findDuplicateKey } from '@app/common/json/duplicate-keys';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PERMISSION_RESOURCES, newRequestId, type Access, type Mode, type PermissionResource } from './accounts';
import { StripeApiError } from './errors';
import { EVENT_TYPE_FORMAT, AUTOMATIC_REQUEST } from './events';
import { FAULT_KINDS, type FaultKind, type FaultQueue } from './faults';
import { readBody, sendJson } from './http-io';
import { randomAlphanumeric } from './ids';
import { completeAuthentication } from './payment-confirmation';
import { presentIntent } from './payment-intents';
import { issueRefund, refundTarget } from './refunds';
import type { EmulatorState, OperationContext } from './state';
import type { DeliveryOptions, ReleaseOrder } from './webhook-delivery';

/** Maximum number of copies of one delivery option. */
const MAX_DELIVERY_COPIES = 20;
/** Maximum delay of one delivery option: ten minutes. */
const MAX_DELIVERY_DELAY_MS = 600_000;
/** How long a rolled secret keeps signing by default: Stripe's 24-hour overlap. */
const DEFAULT_ROLL_EXPIRY_SECONDS = 24 * 60 * 60;
const RELEASE_ORDERS: readonly ReleaseOrder[] = ['sent', 'reverse', 'shuffle'];

/*
 * The emulator's control API under /_emulator/ for tests and the demo. It needs no
 * authentication and takes JSON bodies. Every successful POST returns 201.
 */

type Json = Record<string, unknown>;

class ControlError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

function badRequest(message: string): ControlError {
  return new ControlError(400, message);
}

function notFound(message: string): ControlError {
  return new ControlError(404, message);
}

/**
 * Reads a control request's JSON object and rejects a field outside `fields`, because a
 * misspelt field (`acount` for `account`) would otherwise be ignored and the test would
 * exercise something other than what it names.
 */
async function readJson(request: IncomingMessage, fields: readonly string[]): Promise<Json> {
  const body = await readJsonObject(request);
  const unknown = Object.keys(body).find((key) => !fields.includes(key));
  if (unknown !== undefined) {
    throw badRequest(`Unknown field ${unknown}; expected ${fieldList(fields)}.`);
  }
  return body;
}

/** Returns `a`, `a or b`, or `a, b or c`. */
function fieldList(fields: readonly string[]): string {
  return fields.length <= 1 ? (fields[0] ?? 'no fields') : `${fields.slice(0, -1).join(', ')} or ${fields[fields.length - 1]}`;
}

async function readJsonObject(request: IncomingMessage): Promise<Json> {
  const text = await readBody(request);
  if (text.trim() === '') {
    return {};
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.');
  }
  // JSON.parse keeps the last of repeated keys, so a test that sent two would silently get one of them.
  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) {
    throw badRequest(`Duplicate key ${duplicate}; send each key once.`);
  }
  return body as Json;
}

function optionalString(body: Json, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'string' || value === '') {
    throw badRequest(`Invalid ${name}: expected a non-empty string.`);
  }
  return value;
}

function requiredString(body: Json, name: string): string {
  const value = optionalString(body, name);
  if (value === undefined) {
    throw badRequest(`Missing required field: ${name}.`);
  }
  return value;
}

function optionalIntegerInRange(body: Json, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badRequest(`Invalid ${name}: expected an integer from ${min} to ${max}.`);
  }
  return value;
}

function optionalBoolean(body: Json, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'boolean') {
    throw badRequest(`Invalid ${name}: expected a boolean.`);
  }
  return value;
}

/** Parses `delivery` of an emitted event: `{ "copies"?, "concurrent"?, "delayMs"? }`. */
function parseDeliveryOptions(value: unknown): DeliveryOptions | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('Invalid delivery: expected an object such as { "copies": 2, "concurrent": true, "delayMs": 500 }.');
  }
  const body = value as Json;
  const unknown = Object.keys(body).filter((key) => !['copies', 'concurrent', 'delayMs'].includes(key));
  if (unknown.length > 0) {
    throw badRequest(`Invalid delivery: unknown field ${unknown[0]}; expected copies, concurrent or delayMs.`);
  }
  return {
    copies: optionalIntegerInRange(body, 'copies', 1, MAX_DELIVERY_COPIES),
    concurrent: optionalBoolean(body, 'concurrent'),
    delayMs: optionalIntegerInRange(body, 'delayMs', 0, MAX_DELIVERY_DELAY_MS),
  };
}

function optionalPositiveInteger(body: Json, name: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw badRequest(`Invalid ${name}: expected a positive integer.`);
  }
  return value;
}

/**
 * Parses `permissions` such as `["payment_intents", "charges:read"]`: a bare resource name
 * grants read and write, `:read` grants read only.
 */
function parsePermissions(value: unknown): Map<PermissionResource, Access> {
  if (!Array.isArray(value)) {
    throw badRequest('Invalid permissions: expected an array of resource names.');
  }
  const permissions = new Map<PermissionResource, Access>();
  for (const entry of value) {
    const [resource, access = 'write'] = typeof entry === 'string' ? entry.split(':') : [];
    if (!(PERMISSION_RESOURCES as readonly string[]).includes(resource) || (access !== 'read' && access !== 'write')) {
      throw badRequest(
        `Invalid permission ${JSON.stringify(entry)}: expected one of ${PERMISSION_RESOURCES.join(', ')}, optionally followed by :read.`,
      );
    }
    permissions.set(resource as PermissionResource, access);
  }
  return permissions;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`Invalid percent-encoding in the path segment ${segment}.`);
  }
}

/** Matches path segments against a pattern such as `accounts/:id/keys` and returns the id ('' if none). */
function matchPattern(pattern: string, segments: string[]): string | undefined {
  const parts = pattern.split('/');
  if (parts.length !== segments.length) {
    return undefined;
  }
  let id = '';
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === ':id') {
      id = segments[i];
    } else if (parts[i] !== segments[i]) {
      return undefined;
    }
  }
  return id;
}

/** Routes `/_emulator/…` requests. */
export class ControlRoutes {
  constructor(
    private readonly state: EmulatorState,
    private readonly faults: FaultQueue,
  ) {}

  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const method = request.method ?? 'GET';
    try {
      const segments = url.pathname
        .split('/')
        .slice(2)
        .map((segment) => decodeSegment(segment));
      const result = await this.dispatch(method, segments, request, url);
      if (result === undefined) {
        throw notFound(`No control route ${method} ${url.pathname}.`);
      }
      sendJson(response, method === 'POST' ? 201 : 200, result);
    } catch (error) {
      if (error instanceof ControlError || error instanceof StripeApiError) {
        sendJson(response, error.statusCode, { error: { type: 'invalid_request_error', message: error.message } });
        return;
      }
      this.state.logger.error(
        `Unexpected error serving ${method} ${url.pathname}: ${error instanceof Error ? error.stack : String(error)}`,
      );
      sendJson(response, 500, { error: { type: 'api_error', message: 'The emulator failed to handle this request.' } });
    }
  }

  private async dispatch(
    method: string,
    segments: string[],
    request: IncomingMessage,
    url: URL,
  ): Promise<object | undefined> {
    const routes: [string, string, (id: string) => Promise<object> | object][] = [
      ['GET', 'health', () => ({ ok: true })],
      ['POST', 'accounts', async () => this.createAccount(await readJson(request, ['email', 'displayName', 'country', 'defaultCurrency']))],
      ['POST', 'accounts/:id/keys', async (id) => this.createKeys(id, await readJson(request, ['mode', 'restricted', 'permissions']))],
      ['POST', 'keys/revoke', async () => this.revokeKey(await readJson(request, ['key']))],
      ['POST', 'faults', async () => this.addFaults(await readJson(request, ['kind', 'count', 'account']))],
      ['GET', 'deliveries', () => this.listDeliveries(url)],
      [
        'POST',
        'deliveries/:id/resend',
        async (id) => {
          await readJson(request, []);
          return this.resendDelivery(id);
        },
      ],
      ['POST', 'deliveries/hold', async () => this.holdDeliveries(await readJson(request, ['account']))],
      ['POST', 'deliveries/release', async () => this.releaseDeliveries(await readJson(request, ['account', 'order']))],
      ['POST', 'webhook_endpoints/:id/roll_secret', async (id) => this.rollEndpointSecret(id, await readJson(request, ['expiresInSeconds']))],
      ['POST', 'settings', async () => this.changeSettings(await readJsonObject(request))],
      ['POST', 'accounts/:id/dashboard/refunds', async (id) => this.createDashboardRefund(id, await readJson(request, ['paymentIntent', 'charge', 'amount', 'outcome']))],
      ['POST', 'events', async () => this.emitEvent(await readJson(request, ['account', 'type', 'object', 'livemode', 'delivery']))],
      ['POST', 'payment_intents/:id/authenticate', async (id) => this.authenticate(id, await readJson(request, ['outcome']))],
    ];
    for (const [routeMethod, pattern, run] of routes) {
      const id = routeMethod === method ? matchPattern(pattern, segments) : undefined;
      if (id !== undefined) {
        return run(id);
      }
    }
    return undefined;
  }

  private listDeliveries(url: URL): object {
    const unknown = [...url.searchParams.keys()].find((name) => name !== 'account' && name !== 'eventId');
    if (unknown !== undefined) {
      throw badRequest(`Unknown query parameter ${unknown}; expected account or eventId.`);
    }
    return {
      data: this.state.dispatcher.list({
        account: url.searchParams.get('account') ?? undefined,
        eventId: url.searchParams.get('eventId') ?? undefined,
      }),
    };
  }

  /** Holds every new delivery to the account's endpoints until a release; for out-of-order tests. */
  private holdDeliveries(body: Json): object {
    const account = requiredString(body, 'account');
    if (!this.state.accounts.getAccount(account)) {
      throw notFound(`No such account: ${account}.`);
    }
    this.state.dispatcher.hold(account);
    this.state.logger.info(`Holding webhook deliveries of account ${account}`);
    return {};
  }

  /** Sends the held deliveries in `order` (`sent`, `reverse` or `shuffle`), each after the previous one's response. */
  private releaseDeliveries(body: Json): object {
    const account = requiredString(body, 'account');
    const order = (optionalString(body, 'order') ?? 'sent') as ReleaseOrder;
    if (!RELEASE_ORDERS.includes(order)) {
      throw badRequest(`Invalid order: expected one of ${RELEASE_ORDERS.join(', ')}.`);
    }
    const released = this.state.dispatcher.release(account, order);
    this.state.logger.info(`Releasing ${released.length} held webhook deliveries of account ${account} in ${order} order`);
    return { data: released.map((delivery) => ({ id: delivery.id, eventId: delivery.eventId, type: delivery.type })) };
  }

  /**
   * Rolls an endpoint's signing secret like the Dashboard's "Roll secret": the new secret
   * signs from now on, and the old one also signs every delivery until it expires, so
   * deliveries carry two v1 signatures meanwhile.
   */
  private rollEndpointSecret(endpointId: string, body: Json): object {
    const previous = this.state.webhookSecrets.get(endpointId);
    if (!this.state.webhookEndpoints.lookup(endpointId) || previous === undefined) {
      throw notFound(`No such webhook endpoint: ${endpointId}.`);
    }
    const expiresInSeconds = optionalIntegerInRange(body, 'expiresInSeconds', 0, 7 * 24 * 60 * 60) ?? DEFAULT_ROLL_EXPIRY_SECONDS;
    const secret = `whsec_${randomAlphanumeric(32)}`;
    const expiresAt = Date.now() + expiresInSeconds * 1000;
    this.state.webhookSecrets.set(endpointId, secret);
    this.state.dispatcher.rememberRolledSecret(endpointId, previous, expiresAt);
    this.state.logger.info(`Rolled the signing secret of webhook endpoint ${endpointId}; the old one signs for ${expiresInSeconds} s`);
    return { id: endpointId, secret, previousSecretExpiresAt: new Date(expiresAt).toISOString() };
  }

  /** `{ "rejectLocalEndpointUrls": true }` makes endpoint registration refuse localhost URLs as Stripe does. */
  private changeSettings(body: Json): object {
    const unknown = Object.keys(body).filter((key) => key !== 'rejectLocalEndpointUrls');
    if (unknown.length > 0) {
      throw badRequest(`Unknown setting ${unknown[0]}; expected rejectLocalEndpointUrls.`);
    }
    const reject = optionalBoolean(body, 'rejectLocalEndpointUrls');
    if (reject !== undefined) {
      this.state.dispatcher.rejectLocalEndpointUrls = reject;
    }
    return { rejectLocalEndpointUrls: this.state.dispatcher.rejectLocalEndpointUrls };
  }

  private createAccount(body: Json): object {
    const account = this.state.accounts.createAccount({
      email: optionalString(body, 'email'),
      displayName: optionalString(body, 'displayName'),
      country: optionalString(body, 'country')?.toUpperCase(),
      defaultCurrency: optionalString(body, 'defaultCurrency')?.toLowerCase(),
    });
    this.state.logger.info(`Created account ${account.id} through the control API`);
    return {
      id: account.id,
      test: this.state.accounts.createKeyPair(account.id, 'test'),
      live: this.state.accounts.createKeyPair(account.id, 'live'),
    };
  }

  private createKeys(accountId: string, body: Json): object {
    if (!this.state.accounts.getAccount(accountId)) {
      throw notFound(`No such account: ${accountId}.`);
    }
    const mode = body.mode;
    if (mode !== 'test' && mode !== 'live') {
      throw badRequest('Invalid mode: expected "test" or "live".');
    }
    if (body.restricted !== undefined && typeof body.restricted !== 'boolean') {
      throw badRequest('Invalid restricted: expected a boolean.');
    }
    if (body.permissions !== undefined && body.restricted !== true) {
      throw badRequest('Invalid permissions: they apply only to restricted keys, so also set "restricted": true.');
    }
    const restriction =
      body.restricted === true ? { permissions: parsePermissions(body.permissions ?? []) } : undefined;
    return this.state.accounts.createKeyPair(accountId, mode as Mode, restriction);
  }

  private revokeKey(body: Json): object {
    const key = requiredString(body, 'key');
    if (!this.state.accounts.revoke(key)) {
      throw notFound('No such API key.');
    }
    return {};
  }

  private addFaults(body: Json): object {
    const kind = body.kind;
    const count = body.count;
    if (!FAULT_KINDS.includes(kind as FaultKind)) {
      throw badRequest(`Invalid kind: expected one of ${FAULT_KINDS.join(', ')}.`);
    }
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw badRequest('Invalid count: expected a non-negative integer (0 clears pending faults).');
    }
    const account = body.account;
    if (account !== undefined && (typeof account !== 'string' || !this.state.accounts.getAccount(account))) {
      throw badRequest('Invalid account: expected the id of an emulator account, or no account for requests of any account.');
    }
    if (count === 0) {
      this.faults.clear();
    } else {
      this.faults.add(kind as FaultKind, count, account ?? null);
    }
    this.state.logger.info(`Injected fault: the next ${count} /v1 requests${account === undefined ? '' : ` of ${account}`} get ${String(kind)}`);
    return {};
  }

  private resendDelivery(id: string): object {
    const delivery = this.state.dispatcher.get(id);
    if (!delivery) {
      throw notFound(`No such delivery: ${id}.`);
    }
    if (!this.state.webhookEndpoints.lookup(delivery.endpointId)) {
      throw badRequest(`Webhook endpoint ${delivery.endpointId} of delivery ${id} was deleted.`);
    }
    this.state.dispatcher.resend(delivery);
    return delivery;
  }

  private contextFor(accountId: string, livemode: boolean, dashboardRequest: boolean): OperationContext {
    const eventRequest = dashboardRequest ? { id: newRequestId(), idempotency_key: null } : AUTOMATIC_REQUEST;
    const ctx = this.state.contextFor(accountId, livemode, eventRequest);
    if (!ctx) {
      throw notFound(`No such account: ${accountId}.`);
    }
    return ctx;
  }

  /** Creates a refund as if made in the Dashboard, so its events carry a request id but no idempotency key. */
  private createDashboardRefund(accountId: string, body: Json): object {
    const paymentIntent = optionalString(body, 'paymentIntent');
    const chargeId = optionalString(body, 'charge');
    const outcome = body.outcome ?? 'succeeded';
    if (outcome !== 'succeeded' && outcome !== 'failed') {
      throw badRequest('Invalid outcome: expected "succeeded" or "failed".');
    }
    const target = this.state.charges.lookup(chargeId ?? '') ?? this.state.paymentIntents.lookup(paymentIntent ?? '');
    if (!target || target.accountId !== accountId) {
      const described = chargeId !== undefined ? `charge ${chargeId}` : `PaymentIntent ${String(paymentIntent)}`;
      throw notFound(`No such ${described} on account ${accountId}.`);
    }
    const ctx = this.contextFor(accountId, target.livemode, true);
    const charge = refundTarget(
      ctx,
      { paymentIntent, charge: chargeId },
      { paymentIntent: 'paymentIntent', charge: 'charge' },
    );
    return issueRefund(ctx, { charge, amount: optionalPositiveInteger(body, 'amount'), outcome });
  }

  private emitEvent(body: Json): object {
    const accountId = requiredString(body, 'account');
    const type = requiredString(body, 'type');
    if (!EVENT_TYPE_FORMAT.test(type)) {
      throw badRequest(`Invalid type: ${type} is not an event type such as charge.succeeded.`);
    }
    const object = body.object;
    if (typeof object !== 'object' || object === null || Array.isArray(object)) {
      throw badRequest('Invalid object: expected a JSON object.');
    }
    const livemodeField = body.livemode ?? (object as Json).livemode ?? false;
    if (typeof livemodeField !== 'boolean') {
      throw badRequest('Invalid livemode: expected a boolean.');
    }
    const delivery = parseDeliveryOptions(body.delivery);
    const ctx = this.contextFor(accountId, livemodeField, false);
    if (delivery === undefined) {
      return ctx.state.emit(ctx.scope, type, object, AUTOMATIC_REQUEST);
    }
    return this.state.dispatcher.withDeliveryOptions(delivery, () => ctx.state.emit(ctx.scope, type, object, AUTOMATIC_REQUEST));
  }

  private authenticate(intentId: string, body: Json): object {
    const outcome = body.outcome ?? 'succeeded';
    if (outcome !== 'succeeded' && outcome !== 'failed') {
      throw badRequest('Invalid outcome: expected "succeeded" or "failed".');
    }
    const found = this.state.paymentIntents.lookup(intentId);
    if (!found) {
      throw notFound(`No such PaymentIntent: ${intentId}.`);
    }
    const ctx = this.contextFor(found.accountId, found.livemode, false);
    completeAuthentication(ctx, found.object, outcome);
    return presentIntent(ctx, found.object);
  }
}
