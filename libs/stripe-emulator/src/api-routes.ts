import type Stripe from 'stripe';
import { toStripeAccount, type PermissionResource } from './accounts';
import { listCharges, retrieveCharge } from './charges';
import { createCustomer, listCustomers, listCustomerTaxIds, retrieveCustomer, updateCustomer } from './customers';
import type { EmulatorEvent } from './events';
import type { FormObject } from './form-decoding';
import {
  createInvoiceItem,
  deleteInvoiceItem,
  listInvoiceItems,
  retrieveInvoiceItem,
  updateInvoiceItem,
} from './invoice-items';
import {
  createInvoice,
  deleteInvoice,
  finalizeInvoice,
  listInvoiceLines,
  listInvoices,
  markInvoiceUncollectible,
  payInvoice,
  retrieveInvoice,
  searchInvoices,
  sendInvoice,
  updateInvoice,
  voidInvoice,
} from './invoices';
import { expandFields, paginate, type ListObject } from './object-store';
import { expandParam, listParams, param, parseParams } from './params';
import { cancelPaymentIntent, capturePaymentIntent } from './payment-intent-capture';
import {
  confirmPaymentIntentHandler,
  createPaymentIntent,
  listPaymentIntents,
  retrievePaymentIntent,
  updatePaymentIntent,
} from './payment-intents';
import { createRefund, listRefunds, retrieveRefund, updateRefund } from './refunds';
import type { ApiContext } from './state';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listWebhookEndpoints,
  retrieveWebhookEndpoint,
  updateWebhookEndpoint,
} from './webhook-endpoints';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/** One `/v1` endpoint. `:id` in the path is passed to the handler as `id`. */
export interface ApiRoute {
  method: HttpMethod;
  path: string;
  /** The resource a restricted key needs access to: read access for GET, write access otherwise. */
  resource: PermissionResource;
  handler: (ctx: ApiContext, input: FormObject, id: string) => object;
}

function retrieveAccount(ctx: ApiContext, input: FormObject): Stripe.Account {
  const params = parseParams(input, { expand: expandParam });
  return expandFields(toStripeAccount(ctx.account), params.expand ?? [], {});
}

function retrieveEvent(ctx: ApiContext, input: FormObject, id: string): EmulatorEvent {
  parseParams(input, { expand: expandParam });
  return structuredClone(ctx.state.events.get(ctx.scope, id));
}

function listEvents(ctx: ApiContext, input: FormObject): ListObject<EmulatorEvent> {
  const params = parseParams(input, {
    ...listParams,
    type: param.string(),
    types: param.array(param.string()),
    delivery_success: param.boolean(),
  });
  // `type` accepts a `*` wildcard as Stripe's does, e.g. `charge.*`.
  const typePattern =
    params.type === undefined
      ? undefined
      : new RegExp(
          `^${params.type
            .split('*')
            .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        );
  const events = ctx.state.events.list(
    ctx.scope,
    (event) =>
      (typePattern === undefined || typePattern.test(event.type)) &&
      (params.types === undefined || params.types.includes(event.type)) &&
      (params.delivery_success === undefined || (event.pending_webhooks === 0) === params.delivery_success),
  );
  const page = paginate(events, params, '/v1/events', ctx.state.events.label);
  return { ...page, data: page.data.map((event) => structuredClone(event)) };
}

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'GET', path: '/v1/account', resource: 'account', handler: retrieveAccount },

  { method: 'POST', path: '/v1/payment_intents', resource: 'payment_intents', handler: createPaymentIntent },
  { method: 'GET', path: '/v1/payment_intents', resource: 'payment_intents', handler: listPaymentIntents },
  { method: 'GET', path: '/v1/payment_intents/:id', resource: 'payment_intents', handler: retrievePaymentIntent },
  { method: 'POST', path: '/v1/payment_intents/:id', resource: 'payment_intents', handler: updatePaymentIntent },
  {
    method: 'POST',
    path: '/v1/payment_intents/:id/confirm',
    resource: 'payment_intents',
    handler: confirmPaymentIntentHandler,
  },
  {
    method: 'POST',
    path: '/v1/payment_intents/:id/capture',
    resource: 'payment_intents',
    handler: capturePaymentIntent,
  },
  { method: 'POST', path: '/v1/payment_intents/:id/cancel', resource: 'payment_intents', handler: cancelPaymentIntent },

  { method: 'GET', path: '/v1/charges', resource: 'charges', handler: listCharges },
  { method: 'GET', path: '/v1/charges/:id', resource: 'charges', handler: retrieveCharge },

  { method: 'POST', path: '/v1/refunds', resource: 'refunds', handler: createRefund },
  { method: 'GET', path: '/v1/refunds', resource: 'refunds', handler: listRefunds },
  { method: 'GET', path: '/v1/refunds/:id', resource: 'refunds', handler: retrieveRefund },
  { method: 'POST', path: '/v1/refunds/:id', resource: 'refunds', handler: updateRefund },

  { method: 'POST', path: '/v1/webhook_endpoints', resource: 'webhook_endpoints', handler: createWebhookEndpoint },
  { method: 'GET', path: '/v1/webhook_endpoints', resource: 'webhook_endpoints', handler: listWebhookEndpoints },
  { method: 'GET', path: '/v1/webhook_endpoints/:id', resource: 'webhook_endpoints', handler: retrieveWebhookEndpoint },
  { method: 'POST', path: '/v1/webhook_endpoints/:id', resource: 'webhook_endpoints', handler: updateWebhookEndpoint },
  {
    method: 'DELETE',
    path: '/v1/webhook_endpoints/:id',
    resource: 'webhook_endpoints',
    handler: deleteWebhookEndpoint,
  },

  { method: 'POST', path: '/v1/customers', resource: 'customers', handler: createCustomer },
  { method: 'GET', path: '/v1/customers', resource: 'customers', handler: listCustomers },
  { method: 'GET', path: '/v1/customers/:id', resource: 'customers', handler: retrieveCustomer },
  { method: 'POST', path: '/v1/customers/:id', resource: 'customers', handler: updateCustomer },
  { method: 'GET', path: '/v1/customers/:id/tax_ids', resource: 'customers', handler: listCustomerTaxIds },

  { method: 'POST', path: '/v1/invoiceitems', resource: 'invoiceitems', handler: createInvoiceItem },
  { method: 'GET', path: '/v1/invoiceitems', resource: 'invoiceitems', handler: listInvoiceItems },
  { method: 'GET', path: '/v1/invoiceitems/:id', resource: 'invoiceitems', handler: retrieveInvoiceItem },
  { method: 'POST', path: '/v1/invoiceitems/:id', resource: 'invoiceitems', handler: updateInvoiceItem },
  { method: 'DELETE', path: '/v1/invoiceitems/:id', resource: 'invoiceitems', handler: deleteInvoiceItem },

  // `search` comes before `:id`, which would otherwise match it.
  { method: 'GET', path: '/v1/invoices/search', resource: 'invoices', handler: searchInvoices },
  { method: 'POST', path: '/v1/invoices', resource: 'invoices', handler: createInvoice },
  { method: 'GET', path: '/v1/invoices', resource: 'invoices', handler: listInvoices },
  { method: 'GET', path: '/v1/invoices/:id', resource: 'invoices', handler: retrieveInvoice },
  { method: 'POST', path: '/v1/invoices/:id', resource: 'invoices', handler: updateInvoice },
  { method: 'DELETE', path: '/v1/invoices/:id', resource: 'invoices', handler: deleteInvoice },
  { method: 'GET', path: '/v1/invoices/:id/lines', resource: 'invoices', handler: listInvoiceLines },
  { method: 'POST', path: '/v1/invoices/:id/finalize', resource: 'invoices', handler: finalizeInvoice },
  { method: 'POST', path: '/v1/invoices/:id/send', resource: 'invoices', handler: sendInvoice },
  { method: 'POST', path: '/v1/invoices/:id/pay', resource: 'invoices', handler: payInvoice },
  { method: 'POST', path: '/v1/invoices/:id/void', resource: 'invoices', handler: voidInvoice },
  {
    method: 'POST',
    path: '/v1/invoices/:id/mark_uncollectible',
    resource: 'invoices',
    handler: markInvoiceUncollectible,
  },

  { method: 'GET', path: '/v1/events', resource: 'events', handler: listEvents },
  { method: 'GET', path: '/v1/events/:id', resource: 'events', handler: retrieveEvent },
];

/** Finds the route for a method and path. The `:id` segment matches any one path segment. */
export function matchRoute(method: string, path: string): { route: ApiRoute; id: string } | undefined {
  const segments = path.split('/');
  for (const route of API_ROUTES) {
    if (route.method !== method) {
      continue;
    }
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) {
      continue;
    }
    let id = '';
    const matches = pattern.every((part, index) => {
      if (part === ':id') {
        id = segments[index];
        return id.length > 0;
      }
      return part === segments[index];
    });
    if (matches) {
      return { route, id: decodeURIComponent(id) };
    }
  }
  return undefined;
}
