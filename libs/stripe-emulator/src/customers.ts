import type Stripe from 'stripe';
import { normalizeCurrency } from './currencies';
import { invalidRequest } from './errors';
import type { FormObject } from './form-decoding';
import { newId, nowSeconds, randomAlphanumeric } from './ids';
import { checkExpandPaths, paginate, type ListObject } from './object-store';
import { expandParam, initialMetadata, listParams, mergeMetadata, param, parseParams } from './params';
import type { ApiContext, OperationContext } from './state';
import { checkTaxIdData, createTaxId } from './tax-ids';

// `tax_ids` is an includable field: Stripe returns it only when expanded.
const EXPANDABLE = ['tax_ids'];

// A simplified RFC 5322 check: one `@`, no spaces, a dot in the domain.
const EMAIL_FORMAT = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// Stripe's invoice prefixes: 3 to 12 upper-case letters or digits.
const INVOICE_PREFIX_FORMAT = /^[A-Z0-9]{3,12}$/;

const addressParam = param.emptyable(
  param.object({
    line1: param.string({ maxLength: 5000 }),
    line2: param.string({ maxLength: 5000 }),
    city: param.string({ maxLength: 5000 }),
    state: param.string({ maxLength: 5000 }),
    postal_code: param.string({ maxLength: 5000 }),
    country: param.string({ maxLength: 5000 }),
  }),
);

const editableParams = {
  address: addressParam,
  description: param.emptyable(param.string({ maxLength: 5000 })),
  email: param.emptyable(param.string({ maxLength: 512 })),
  metadata: param.metadata(),
  name: param.emptyable(param.string({ maxLength: 256 })),
  phone: param.emptyable(param.string({ maxLength: 20 })),
  preferred_locales: param.array(param.string()),
  invoice_prefix: param.string(),
  expand: expandParam,
} as const;

const createParams = {
  ...editableParams,
  currency: param.string(),
  tax_id_data: param.array(param.object({ type: param.string(), value: param.string() })),
} as const;

type AddressInput = { line1?: string; line2?: string; city?: string; state?: string; postal_code?: string; country?: string };

function toAddress(input: AddressInput | null | undefined): Stripe.Address | null {
  if (!input) {
    return null;
  }
  return {
    city: input.city ?? null,
    country: input.country?.toUpperCase() ?? null,
    line1: input.line1 ?? null,
    line2: input.line2 ?? null,
    postal_code: input.postal_code ?? null,
    state: input.state ?? null,
  };
}

function checkEmail(email: string | null | undefined): void {
  if (email && !EMAIL_FORMAT.test(email)) {
    throw invalidRequest(`Invalid email address: ${email}`, { code: 'email_invalid', param: 'email' });
  }
}

function checkInvoicePrefix(ctx: OperationContext, prefix: string | undefined, customerId: string): void {
  if (prefix === undefined) {
    return;
  }
  if (!INVOICE_PREFIX_FORMAT.test(prefix)) {
    throw invalidRequest('Invalid invoice_prefix: use 3 to 12 upper-case letters or digits.', { param: 'invoice_prefix' });
  }
  const taken = ctx.state.customers.list(ctx.scope, (other) => other.id !== customerId && other.invoice_prefix === prefix);
  if (taken.length > 0) {
    throw invalidRequest(`The invoice prefix ${prefix} is already used by another customer.`, { param: 'invoice_prefix' });
  }
}

/** Returns a copy of the customer for a response, with `tax_ids` included when expanded. */
export function presentCustomer(ctx: OperationContext, customer: Stripe.Customer, expand: readonly string[] = []): Stripe.Customer {
  const copy = structuredClone(customer);
  if (expand.includes('tax_ids')) {
    const taxIds = ctx.state.taxIds.list(ctx.scope, (taxId) => taxId.customer === customer.id).reverse();
    copy.tax_ids = {
      object: 'list',
      data: structuredClone(taxIds),
      has_more: false,
      url: `/v1/customers/${customer.id}/tax_ids`,
    };
  }
  return copy;
}

/** Takes the customer's next invoice number, `PREFIX-0001`, as Stripe numbers invoices per customer. */
export function takeCustomerInvoiceNumber(customer: Stripe.Customer): string {
  const sequence = customer.next_invoice_sequence ?? 1;
  customer.next_invoice_sequence = sequence + 1;
  return `${customer.invoice_prefix}-${String(sequence).padStart(4, '0')}`;
}

export function createCustomer(ctx: ApiContext, input: FormObject): Stripe.Customer {
  const params = parseParams(input, createParams);
  checkEmail(params.email);
  checkExpandPaths(params.expand, EXPANDABLE);
  const id = newId('cus', 14);
  checkInvoicePrefix(ctx, params.invoice_prefix, id);
  // Every tax id is checked before anything is stored, so a rejected request creates nothing.
  const taxIdData = (params.tax_id_data ?? []).map((data, index) => checkTaxIdData(data, `tax_id_data[${index}]`));

  const customer: Stripe.Customer = {
    id,
    object: 'customer',
    address: toAddress(params.address),
    balance: 0,
    created: nowSeconds(),
    currency: params.currency !== undefined ? normalizeCurrency(params.currency) : null,
    default_source: null,
    delinquent: false,
    description: params.description ?? null,
    discount: null,
    email: params.email ?? null,
    invoice_prefix: params.invoice_prefix ?? randomAlphanumeric(8).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: ctx.scope.livemode,
    metadata: initialMetadata(params.metadata),
    name: params.name ?? null,
    next_invoice_sequence: 1,
    phone: params.phone ?? null,
    preferred_locales: params.preferred_locales ?? [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
  ctx.state.customers.insert(ctx.scope, customer);
  ctx.state.emit(ctx.scope, 'customer.created', customer, ctx.eventRequest);
  for (const data of taxIdData) {
    createTaxId(ctx, customer.id, data);
  }
  return presentCustomer(ctx, customer, params.expand);
}

export function retrieveCustomer(ctx: ApiContext, input: FormObject, id: string): Stripe.Customer {
  const params = parseParams(input, { expand: expandParam });
  checkExpandPaths(params.expand, EXPANDABLE);
  return presentCustomer(ctx, ctx.state.customers.get(ctx.scope, id), params.expand);
}

export function updateCustomer(ctx: ApiContext, input: FormObject, id: string): Stripe.Customer {
  const params = parseParams(input, editableParams);
  const customer = ctx.state.customers.get(ctx.scope, id);
  checkEmail(params.email);
  checkExpandPaths(params.expand, EXPANDABLE);
  checkInvoicePrefix(ctx, params.invoice_prefix, customer.id);

  const previous: Partial<Stripe.Customer> = {};
  const change = <K extends keyof Stripe.Customer>(key: K, value: Stripe.Customer[K] | undefined): void => {
    if (value !== undefined && JSON.stringify(value) !== JSON.stringify(customer[key])) {
      previous[key] = customer[key];
      customer[key] = value;
    }
  };
  change('address', params.address === undefined ? undefined : toAddress(params.address));
  change('description', params.description);
  change('email', params.email);
  change('name', params.name);
  change('phone', params.phone);
  change('preferred_locales', params.preferred_locales);
  change('invoice_prefix', params.invoice_prefix);
  change('metadata', mergeMetadata(customer.metadata, params.metadata));
  if (Object.keys(previous).length > 0) {
    ctx.state.emit(ctx.scope, 'customer.updated', customer, ctx.eventRequest, previous);
  }
  return presentCustomer(ctx, customer, params.expand);
}

export function listCustomers(ctx: ApiContext, input: FormObject): ListObject<Stripe.Customer> {
  const params = parseParams(input, { ...listParams, email: param.string({ maxLength: 512 }) });
  // A list expands its items' fields with a `data.` prefix, as in expand[]=data.tax_ids.
  const itemExpand = (params.expand ?? []).map((path) => {
    if (!path.startsWith('data.')) {
      throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
    }
    return path.slice('data.'.length);
  });
  checkExpandPaths(itemExpand, EXPANDABLE);
  const customers = ctx.state.customers.list(
    ctx.scope,
    (customer) => params.email === undefined || customer.email === params.email,
  );
  const page = paginate(customers, params, '/v1/customers', ctx.state.customers.label);
  return { ...page, data: page.data.map((customer) => presentCustomer(ctx, customer, itemExpand)) };
}

export function listCustomerTaxIds(ctx: ApiContext, input: FormObject, id: string): ListObject<Stripe.TaxId> {
  const params = parseParams(input, listParams);
  const customer = ctx.state.customers.get(ctx.scope, id);
  const taxIds = ctx.state.taxIds.list(ctx.scope, (taxId) => taxId.customer === customer.id);
  const page = paginate(taxIds, params, `/v1/customers/${customer.id}/tax_ids`, ctx.state.taxIds.label);
  return { ...page, data: page.data.map((taxId) => structuredClone(taxId)) };
}
