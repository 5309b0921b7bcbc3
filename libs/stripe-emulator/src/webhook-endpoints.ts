import type Stripe from 'stripe';
import { invalidRequest, parameterMissing } from './errors';
import { EVENT_TYPE_FORMAT } from './events';
import type { FormObject } from './form-decoding';
import { newId, nowSeconds, randomAlphanumeric } from './ids';
import { expandFields, expandList, paginate, type ListObject } from './object-store';
import { expandParam, initialMetadata, listParams, mergeMetadata, param, parseParams } from './params';
import type { ApiContext } from './state';

// Stripe's limit of webhook endpoints per account and mode.
const MAX_ENDPOINTS_PER_MODE = 16;

// Stripe API versions look like `2026-11-18.endive` (older ones have no suffix).
const API_VERSION_FORMAT = /^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/;

const createParams = {
  url: param.string({ maxLength: 5000 }),
  enabled_events: param.array(param.string()),
  api_version: param.string(),
  description: param.emptyable(param.string({ maxLength: 5000 })),
  metadata: param.metadata(),
  connect: param.boolean(),
  expand: expandParam,
} as const;

const updateParams = {
  url: param.string({ maxLength: 5000 }),
  enabled_events: param.array(param.string()),
  description: param.emptyable(param.string({ maxLength: 5000 })),
  metadata: param.metadata(),
  disabled: param.boolean(),
  expand: expandParam,
} as const;

/** Host names Stripe rejects as not publicly accessible. */
const LOCAL_HOSTNAME = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)$/i;

/**
 * Checks an endpoint URL. Unlike Stripe, URLs on localhost and 127.0.0.1 are accepted, so
 * tests and the demo can register their own servers, unless the control API turned on
 * `rejectLocalEndpointUrls` to reproduce Stripe's refusal.
 */
function checkUrl(url: string, rejectLocal = false): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidRequest(`Invalid URL: ${url}`, { code: 'url_invalid', param: 'url' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidRequest(`Invalid URL: ${url}. URLs must begin with http:// or https://`, {
      code: 'url_invalid',
      param: 'url',
    });
  }
  if (rejectLocal && LOCAL_HOSTNAME.test(parsed.hostname)) {
    throw invalidRequest(`Invalid URL: ${url}. URL must be publicly accessible.`, { code: 'url_invalid', param: 'url' });
  }
  return url;
}

// NOTE: event types are checked by their shape, not against Stripe's list of types, so a
// misspelled type such as `charge.sucseeded` is accepted here although Stripe rejects it.
function checkEnabledEvents(events: string[]): string[] {
  if (events.length === 0) {
    throw parameterMissing('enabled_events');
  }
  events.forEach((type, index) => {
    if (type !== '*' && !EVENT_TYPE_FORMAT.test(type)) {
      throw invalidRequest(`Invalid enabled_events[${index}]: ${type} is not a valid event type.`, {
        param: `enabled_events[${index}]`,
      });
    }
  });
  return [...new Set(events)];
}

function respond(endpoint: Stripe.WebhookEndpoint, expand: string[] = []): Stripe.WebhookEndpoint {
  // No field of a webhook endpoint is expandable, so any `expand[]` path raises Stripe's 400.
  return expandFields(structuredClone(endpoint), expand, {});
}

export function createWebhookEndpoint(ctx: ApiContext, input: FormObject): Stripe.WebhookEndpoint {
  const params = parseParams(input, createParams);
  if (params.url === undefined) {
    throw parameterMissing('url');
  }
  if (params.enabled_events === undefined) {
    throw parameterMissing('enabled_events');
  }
  if (params.connect === true) {
    throw invalidRequest('The emulator does not support Connect webhook endpoints (connect=true).', {
      param: 'connect',
    });
  }
  if (params.api_version !== undefined && !API_VERSION_FORMAT.test(params.api_version)) {
    throw invalidRequest(`Invalid API version: ${params.api_version}`, { param: 'api_version' });
  }
  const url = checkUrl(params.url, ctx.state.dispatcher.rejectLocalEndpointUrls);
  const enabledEvents = checkEnabledEvents(params.enabled_events);
  const existing = ctx.state.webhookEndpoints.list(ctx.scope);
  if (existing.length >= MAX_ENDPOINTS_PER_MODE) {
    const mode = ctx.scope.livemode ? 'live' : 'test';
    throw invalidRequest(`You have reached the maximum of ${MAX_ENDPOINTS_PER_MODE} ${mode} webhook endpoints.`, {
      param: 'url',
    });
  }

  const endpoint: Stripe.WebhookEndpoint = {
    id: newId('we'),
    object: 'webhook_endpoint',
    api_version: params.api_version ?? null,
    application: null,
    created: nowSeconds(),
    description: params.description ?? null,
    enabled_events: enabledEvents,
    livemode: ctx.scope.livemode,
    metadata: initialMetadata(params.metadata),
    status: 'enabled',
    url,
  };
  const secret = `whsec_${randomAlphanumeric(32)}`;
  ctx.state.webhookEndpoints.insert(ctx.scope, endpoint);
  ctx.state.webhookSecrets.set(endpoint.id, secret);
  ctx.state.logger.info(`Created webhook endpoint ${endpoint.id} for account ${ctx.scope.accountId}`);
  return { ...respond(endpoint, params.expand), secret };
}

export function retrieveWebhookEndpoint(ctx: ApiContext, input: FormObject, id: string): Stripe.WebhookEndpoint {
  const params = parseParams(input, { expand: expandParam });
  return respond(ctx.state.webhookEndpoints.get(ctx.scope, id), params.expand);
}

export function updateWebhookEndpoint(ctx: ApiContext, input: FormObject, id: string): Stripe.WebhookEndpoint {
  const params = parseParams(input, updateParams);
  const endpoint = ctx.state.webhookEndpoints.get(ctx.scope, id);
  if (params.url !== undefined) {
    endpoint.url = checkUrl(params.url, ctx.state.dispatcher.rejectLocalEndpointUrls);
  }
  if (params.enabled_events !== undefined) {
    endpoint.enabled_events = checkEnabledEvents(params.enabled_events);
  }
  if (params.description !== undefined) {
    endpoint.description = params.description;
  }
  endpoint.metadata = mergeMetadata(endpoint.metadata, params.metadata);
  if (params.disabled !== undefined) {
    endpoint.status = params.disabled ? 'disabled' : 'enabled';
  }
  return respond(endpoint, params.expand);
}

export function deleteWebhookEndpoint(ctx: ApiContext, input: FormObject, id: string): Stripe.DeletedWebhookEndpoint {
  parseParams(input, {});
  const endpoint = ctx.state.webhookEndpoints.get(ctx.scope, id);
  ctx.state.webhookEndpoints.delete(endpoint.id);
  ctx.state.webhookSecrets.delete(endpoint.id);
  return { id: endpoint.id, object: 'webhook_endpoint', deleted: true };
}

export function listWebhookEndpoints(ctx: ApiContext, input: FormObject): ListObject<Stripe.WebhookEndpoint> {
  const params = parseParams(input, listParams);
  const page = paginate(
    ctx.state.webhookEndpoints.list(ctx.scope).map((endpoint) => structuredClone(endpoint)),
    params,
    '/v1/webhook_endpoints',
    ctx.state.webhookEndpoints.label,
  );
  return expandList(page, params.expand ?? [], {});
}
