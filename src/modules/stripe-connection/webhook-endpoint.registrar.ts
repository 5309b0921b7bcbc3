import { isStripeError, isStripeTransient } from '@app/common/stripe/stripe-error.mapper';
import { Injectable, Logger } from '@nestjs/common';
import Stripe from 'stripe';
import { HANDLED_STRIPE_EVENT_TYPES } from './stripe-webhook-events';

export type EndpointRegistration =
  | { registration: 'automatic'; endpointId: string; secret: string }
  | { registration: 'manual'; reason: 'permission_missing' | 'request_rejected' | 'stripe_unavailable' };

export interface EndpointRegistrationRequest {
  tenantId: string;
  url: string;
  idempotencyKey: string;
}

/** At most this many endpoints are read when looking for stale ones; Stripe allows 16 per mode. */
const ENDPOINT_LIST_LIMIT = 100;

/**
 * Registers and deletes the service's webhook endpoint in a tenant's Stripe
 * account. Stripe's refusals (a restricted key without the webhook permission,
 * a URL Stripe does not accept such as one on localhost) are outcomes, not
 * errors: the tenant then pastes the URL by hand.
 */
@Injectable()
export class WebhookEndpointRegistrar {
  private readonly logger = new Logger(WebhookEndpointRegistrar.name);

  async register(stripe: Stripe, request: EndpointRegistrationRequest): Promise<EndpointRegistration> {
    await this.deleteStaleEndpoints(stripe, request);

    try {
      const endpoint = await stripe.webhookEndpoints.create(
        {
          url: request.url,
          enabled_events: [...HANDLED_STRIPE_EVENT_TYPES],
          api_version: Stripe.API_VERSION,
          description: 'Billing service',
          metadata: { tenantId: request.tenantId },
        },
        { idempotencyKey: request.idempotencyKey },
      );
      if (!endpoint.secret) {
        this.logger.warn({ tenantId: request.tenantId, stripeWebhookEndpointId: endpoint.id }, 'Stripe returned no signing secret for a new webhook endpoint');
        await this.delete(stripe, request.tenantId, endpoint.id);

        return { registration: 'manual', reason: 'request_rejected' };
      }

      return { registration: 'automatic', endpointId: endpoint.id, secret: endpoint.secret };
    } catch (error) {
      const reason = registrationFailureReason(error);
      this.logger.warn(
        { tenantId: request.tenantId, reason, stripeError: describeStripeError(error) },
        'Webhook endpoint registration in Stripe failed, so the tenant must add the endpoint by hand',
      );

      return { registration: 'manual', reason };
    }
  }

  /**
   * Check whether an endpoint still exists in the key's account. Only Stripe's
   * 404 counts as gone; any other error is logged and counts as present, so a
   * Stripe outage never replaces a working endpoint.
   */
  async exists(stripe: Stripe, tenantId: string, endpointId: string): Promise<boolean> {
    try {
      await stripe.webhookEndpoints.retrieve(endpointId);

      return true;
    } catch (error) {
      if (isStripeError(error) && error.statusCode === 404) {
        return false;
      }

      this.logger.warn(
        { tenantId, stripeWebhookEndpointId: endpointId, stripeError: describeStripeError(error) },
        'Could not check the registered webhook endpoint in Stripe; keeping it',
      );

      return true;
    }
  }

  /** Delete an endpoint, best effort: a failure is logged and reported as false. */
  async delete(stripe: Stripe, tenantId: string, endpointId: string): Promise<boolean> {
    try {
      await stripe.webhookEndpoints.del(endpointId);

      return true;
    } catch (error) {
      if (isStripeError(error) && error.statusCode === 404) {
        return true;
      }

      this.logger.warn(
        { tenantId, stripeWebhookEndpointId: endpointId, stripeError: describeStripeError(error) },
        'Could not delete the webhook endpoint in Stripe, so it stays until the tenant deletes it in the Dashboard',
      );

      return false;
    }
  }

  /**
   * Delete endpoints of earlier connections that still point at this tenant's
   * URL (a disconnect whose delete failed), so Stripe does not deliver every
   * event twice, once signed with a secret the service no longer has.
   */
  private async deleteStaleEndpoints(stripe: Stripe, request: EndpointRegistrationRequest): Promise<void> {
    const path = new URL(request.url).pathname;
    let endpoints: Stripe.WebhookEndpoint[];
    try {
      endpoints = (await stripe.webhookEndpoints.list({ limit: ENDPOINT_LIST_LIMIT })).data;
    } catch (error) {
      this.logger.debug({ tenantId: request.tenantId, stripeError: describeStripeError(error) }, 'Could not list webhook endpoints to find stale ones');

      return;
    }

    for (const endpoint of endpoints) {
      if (endpointPath(endpoint.url) === path) {
        this.logger.log({ tenantId: request.tenantId, stripeWebhookEndpointId: endpoint.id }, 'Deleting a stale webhook endpoint of an earlier connection');
        await this.delete(stripe, request.tenantId, endpoint.id);
      }
    }
  }
}

function registrationFailureReason(error: unknown): 'permission_missing' | 'request_rejected' | 'stripe_unavailable' {
  if (!isStripeError(error) || isStripeTransient(error)) {
    return 'stripe_unavailable';
  }

  if (error.type === 'StripePermissionError' || error.statusCode === 403) {
    return 'permission_missing';
  }

  return 'request_rejected';
}

function endpointPath(url: string): string | null {
  try {
    return new URL(url).pathname;
  } catch {
    return null;
  }
}

/** Type, status and code of a Stripe error for the log; never its message, which may quote part of a key. */
export function describeStripeError(error: unknown): Record<string, unknown> {
  if (!isStripeError(error)) {
    return { name: error instanceof Error ? error.name : typeof error };
  }

  return { type: error.type, statusCode: error.statusCode ?? null, code: error.code ?? null };
}
