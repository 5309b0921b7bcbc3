import type Stripe from 'stripe';
import { normalizeCurrency } from './currencies';
import { presentCustomer, takeCustomerInvoiceNumber } from './customers';
import { invalidRequest, parameterMissing, StripeApiError } from './errors';
import type { FormObject } from './form-decoding';
import { newId, nowSeconds } from './ids';
import { itemsOf, lineItemFor, refreshDraftTotals } from './invoice-items';
import {
  decodeSearchPage,
  encodeSearchPage,
  parseSearchQuery,
  searchPredicate,
  type FieldReader,
} from './invoice-search';
import { checkExpandPaths, expandFields, paginate, type Expanders, type ListObject } from './object-store';
import { expandParam, initialMetadata, listParams, mergeMetadata, param, parseParams } from './params';
import { createPaymentIntent } from './payment-intents';
import type { ApiContext, OperationContext } from './state';

const SECONDS_PER_DAY = 24 * 60 * 60;

const EXPANDABLE = ['customer'];

// Stripe's limits on these strings.
const MAX_NUMBER_LENGTH = 26;
const MAX_DESCRIPTION_LENGTH = 1500;
const MAX_FOOTER_LENGTH = 5000;

/** `days_until_due` of each invoice, which Stripe applies at finalization and does not show on the object. */
const daysUntilDueOf = new WeakMap<Stripe.Invoice, number>();

const collectionMethod = param.oneOf(['charge_automatically', 'send_invoice']);

const createParams = {
  auto_advance: param.boolean(),
  collection_method: collectionMethod,
  currency: param.string(),
  customer: param.string(),
  days_until_due: param.integer({ min: 0, max: 36_500 }),
  description: param.string({ maxLength: MAX_DESCRIPTION_LENGTH }),
  due_date: param.integer({ min: 0 }),
  footer: param.string({ maxLength: MAX_FOOTER_LENGTH }),
  metadata: param.metadata(),
  number: param.string({ maxLength: MAX_NUMBER_LENGTH }),
  pending_invoice_items_behavior: param.oneOf(['exclude', 'include']),
  statement_descriptor: param.string({ maxLength: 22 }),
  expand: expandParam,
} as const;

const updateParams = {
  auto_advance: param.boolean(),
  collection_method: collectionMethod,
  days_until_due: param.integer({ min: 0, max: 36_500 }),
  description: param.string({ maxLength: MAX_DESCRIPTION_LENGTH }),
  due_date: param.integer({ min: 0 }),
  footer: param.string({ maxLength: MAX_FOOTER_LENGTH }),
  metadata: param.metadata(),
  number: param.emptyable(param.string({ maxLength: MAX_NUMBER_LENGTH })),
  statement_descriptor: param.string({ maxLength: 22 }),
  expand: expandParam,
} as const;

// Fields Stripe lets you change on a finalized invoice.
const FINALIZED_UPDATABLE = new Set(['auto_advance', 'metadata', 'expand']);

function invoiceExpanders(ctx: OperationContext): Expanders {
  return { customer: (id) => presentCustomer(ctx, ctx.state.customers.get(ctx.scope, id)) };
}

/** Returns a copy of the invoice for a response, with `expand[]` applied. */
export function presentInvoice(ctx: OperationContext, invoice: Stripe.Invoice, expand: readonly string[] = []): Stripe.Invoice {
  return expandFields(structuredClone(invoice), expand, invoiceExpanders(ctx));
}

/** Records a change: `invoice.updated`-style events and the lagging search index see it. */
function changed(ctx: OperationContext, invoice: Stripe.Invoice, type: string, previous?: object): void {
  ctx.state.invoiceSearchIndex.indexLater(ctx.scope, invoice);
  ctx.state.emit(ctx.scope, type, invoice, ctx.eventRequest, previous);
}

function checkNumberUnused(ctx: OperationContext, number: string, invoiceId: string): void {
  const taken = ctx.state.invoices.list(ctx.scope, (other) => other.id !== invoiceId && other.number === number);
  if (taken.length > 0) {
    throw invalidRequest(`The invoice number ${number} is already used by invoice ${taken[0].id}. Invoice numbers must be unique.`, {
      param: 'number',
    });
  }
}

/** Checks the due-date parameters against the collection method, as Stripe does. */
function checkDueDateParams(method: string, daysUntilDue: number | undefined, dueDate: number | undefined): void {
  if (daysUntilDue !== undefined && dueDate !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: days_until_due, due_date.', {
      code: 'parameters_exclusive',
      param: 'days_until_due',
    });
  }
  if (method !== 'send_invoice' && (daysUntilDue !== undefined || dueDate !== undefined)) {
    throw invalidRequest(
      `The parameter ${daysUntilDue !== undefined ? 'days_until_due' : 'due_date'} can only be set when collection_method is send_invoice.`,
      { param: daysUntilDue !== undefined ? 'days_until_due' : 'due_date' },
    );
  }
}

function emptyInvoice(ctx: OperationContext, customer: Stripe.Customer, currency: string, id: string): Stripe.Invoice {
  const created = nowSeconds();
  return {
    id,
    object: 'invoice',
    account_country: ctx.account.country,
    account_name: ctx.account.displayName,
    account_tax_ids: null,
    amount_due: 0,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: 0,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: false,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: 'manual',
    collection_method: 'charge_automatically',
    created,
    currency,
    custom_fields: null,
    customer: customer.id,
    customer_account: null,
    customer_address: structuredClone(customer.address ?? null),
    customer_email: customer.email,
    customer_name: customer.name ?? null,
    customer_phone: customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: customer.tax_exempt ?? 'none',
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: null,
    effective_at: null,
    ending_balance: null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: ctx.scope.livemode,
    metadata: {},
    next_payment_attempt: null,
    number: null,
    on_behalf_of: null,
    parent: null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: created,
    period_start: created,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: { amount_tax_display: null, pdf: { page_size: 'auto' }, template: null, template_version: null },
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: 0,
    subtotal_excluding_tax: 0,
    test_clock: null,
    total: 0,
    total_discount_amounts: [],
    total_excluding_tax: 0,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: created,
  };
}

/**
 * Creates a draft invoice. Pending invoice items of the customer join it only with
 * `pending_invoice_items_behavior=include`; Stripe's default is `exclude`, so items are added
 * afterwards with `invoice=`.
 */
export function createInvoice(ctx: ApiContext, input: FormObject): Stripe.Invoice {
  const params = parseParams(input, createParams);
  if (params.customer === undefined) {
    throw parameterMissing('customer');
  }
  checkExpandPaths(params.expand, EXPANDABLE);
  const customer = ctx.state.customers.get(ctx.scope, params.customer, 'customer');
  const method = params.collection_method ?? 'charge_automatically';
  checkDueDateParams(method, params.days_until_due, params.due_date);
  if (method === 'send_invoice' && params.days_until_due === undefined && params.due_date === undefined) {
    throw invalidRequest('Invoices with collection_method send_invoice need days_until_due or due_date.', {
      code: 'parameter_missing',
      param: 'days_until_due',
    });
  }
  const id = newId('in');
  if (params.number !== undefined) {
    checkNumberUnused(ctx, params.number, id);
  }
  const currency = params.currency !== undefined ? normalizeCurrency(params.currency) : (customer.currency ?? ctx.account.defaultCurrency);

  const invoice = emptyInvoice(ctx, customer, currency, id);
  invoice.auto_advance = params.auto_advance ?? false;
  invoice.collection_method = method;
  invoice.description = params.description ?? null;
  invoice.footer = params.footer ?? null;
  invoice.metadata = initialMetadata(params.metadata);
  invoice.number = params.number ?? null;
  invoice.statement_descriptor = params.statement_descriptor ?? null;
  if (params.days_until_due !== undefined) {
    daysUntilDueOf.set(invoice, params.days_until_due);
    invoice.due_date = invoice.created + params.days_until_due * SECONDS_PER_DAY;
  } else if (params.due_date !== undefined) {
    invoice.due_date = params.due_date;
  }

  ctx.state.invoices.insert(ctx.scope, invoice);
  if (params.pending_invoice_items_behavior === 'include') {
    for (const item of ctx.state.invoiceItems.list(ctx.scope, (candidate) => candidate.customer === customer.id && candidate.invoice === null)) {
      if (item.currency === currency) {
        item.invoice = invoice.id;
      }
    }
  }
  refreshDraftTotals(ctx, invoice);
  changed(ctx, invoice, 'invoice.created');
  return presentInvoice(ctx, invoice, params.expand);
}

export function retrieveInvoice(ctx: ApiContext, input: FormObject, id: string): Stripe.Invoice {
  const params = parseParams(input, { expand: expandParam });
  checkExpandPaths(params.expand, EXPANDABLE);
  return presentInvoice(ctx, ctx.state.invoices.get(ctx.scope, id, 'invoice'), params.expand);
}

export function updateInvoice(ctx: ApiContext, input: FormObject, id: string): Stripe.Invoice {
  const params = parseParams(input, updateParams);
  checkExpandPaths(params.expand, EXPANDABLE);
  const invoice = ctx.state.invoices.get(ctx.scope, id, 'invoice');
  if (invoice.status !== 'draft') {
    const restricted = Object.keys(params).find((name) => !FINALIZED_UPDATABLE.has(name));
    if (restricted !== undefined) {
      throw invalidRequest(`The ${restricted} of invoice ${invoice.id} cannot change because it is no longer a draft.`, {
        code: 'invoice_not_editable',
        param: restricted,
      });
    }
  }
  const method = params.collection_method ?? invoice.collection_method;
  checkDueDateParams(method, params.days_until_due, params.due_date);
  if (typeof params.number === 'string') {
    checkNumberUnused(ctx, params.number, invoice.id);
  }

  const previous: Partial<Stripe.Invoice> = {};
  const change = <K extends keyof Stripe.Invoice>(key: K, value: Stripe.Invoice[K] | undefined): void => {
    if (value !== undefined && JSON.stringify(value) !== JSON.stringify(invoice[key])) {
      previous[key] = invoice[key];
      invoice[key] = value;
    }
  };
  change('auto_advance', params.auto_advance);
  change('collection_method', params.collection_method);
  change('description', params.description);
  change('footer', params.footer);
  change('number', params.number);
  change('statement_descriptor', params.statement_descriptor);
  change('metadata', mergeMetadata(invoice.metadata ?? {}, params.metadata));
  if (params.days_until_due !== undefined) {
    daysUntilDueOf.set(invoice, params.days_until_due);
    change('due_date', invoice.created + params.days_until_due * SECONDS_PER_DAY);
  } else if (params.due_date !== undefined) {
    daysUntilDueOf.delete(invoice);
    change('due_date', params.due_date);
  }
  if (Object.keys(previous).length > 0) {
    changed(ctx, invoice, 'invoice.updated', previous);
  }
  return presentInvoice(ctx, invoice, params.expand);
}

export function deleteInvoice(ctx: ApiContext, input: FormObject, id: string): Stripe.DeletedInvoice {
  parseParams(input, {});
  const invoice = ctx.state.invoices.get(ctx.scope, id, 'invoice');
  if (invoice.status !== 'draft') {
    throw invalidRequest(
      `You can only delete draft invoices. Invoice ${invoice.id} has a status of ${invoice.status}; void it instead.`,
      { code: 'invoice_not_editable' },
    );
  }
  for (const item of itemsOf(ctx, invoice.id)) {
    ctx.state.invoiceItems.delete(item.id);
  }
  ctx.state.invoices.delete(invoice.id);
  ctx.state.invoiceSearchIndex.remove(invoice.id);
  ctx.state.emit(ctx.scope, 'invoice.deleted', invoice, ctx.eventRequest);
  return { id: invoice.id, object: 'invoice', deleted: true };
}

/**
 * Finalizes a draft: freezes its lines, takes the customer's next number unless one was set,
 * fixes the due date and the hosted page. An invoice with nothing to pay is paid at once.
 */
export function finalize(ctx: OperationContext, invoice: Stripe.Invoice, autoAdvance: boolean | undefined): void {
  if (invoice.status !== 'draft') {
    throw invalidRequest(`This invoice is already finalized, you can't re-finalize a non-draft invoice (status ${invoice.status}).`);
  }
  const customer = ctx.state.customers.get(ctx.scope, String(invoice.customer), 'customer');
  refreshDraftTotals(ctx, invoice);
  const lines = itemsOf(ctx, invoice.id).map((item) => lineItemFor(item, invoice.id));
  const finalizedAt = nowSeconds();

  invoice.number = invoice.number ?? takeCustomerInvoiceNumber(customer);
  invoice.status = 'open';
  invoice.status_transitions.finalized_at = finalizedAt;
  invoice.effective_at = finalizedAt;
  invoice.auto_advance = autoAdvance ?? invoice.auto_advance;
  invoice.ending_balance = 0;
  invoice.hosted_invoice_url = `${ctx.state.baseUrl}/invoices/${invoice.id}`;
  invoice.invoice_pdf = `${ctx.state.baseUrl}/invoices/${invoice.id}/pdf`;
  invoice.period_end = Math.max(invoice.period_end, ...lines.map((line) => line.period.end));
  const daysUntilDue = daysUntilDueOf.get(invoice);
  if (daysUntilDue !== undefined) {
    invoice.due_date = finalizedAt + daysUntilDue * SECONDS_PER_DAY;
  }
  changed(ctx, invoice, 'invoice.finalized');

  if (invoice.amount_due === 0) {
    markPaid(ctx, invoice, 0);
  }
}

export function finalizeInvoice(ctx: ApiContext, input: FormObject, id: string): Stripe.Invoice {
  const params = parseParams(input, { auto_advance: param.boolean(), expand: expandParam });
  checkExpandPaths(params.expand, EXPANDABLE);
  const invoice = ctx.state.invoices.get(ctx.scope, id, 'invoice');
  finalize(ctx, invoice, params.auto_advance);
  return presentInvoice(ctx, invoice, params.expand);
}

/** Records a full payment and emits `invoice.payment_succeeded` and `invoice.paid`, as Stripe does. */
function markPaid(ctx: OperationContext, invoice: Stripe.Invoice, paidOffStripe: number): void {
  const previous = { status: invoice.status, amount_paid: invoice.amount_paid, amount_remaining: invoice.amount_remaining };
  invoice.status = 'paid';
  invoice.amount_paid = invoice.amount_due;
  invoice.amount_remaining = 0;
  invoice.attempted = true;
  invoice.next_payment_attempt = null;
  invoice.status_transitions.paid_at = nowSeconds();
  if (paidOffStripe > 0) {
    invoice.amount_paid_off_stripe = paidOffStripe;
  }
  ctx.state.invoiceSearchIndex.indexLater(ctx.scope, invoice);
  ctx.state.emit(ctx.scope, 'invoice.payment_succeeded', invoice, ctx.eventRequest, previous);
  ctx.state.emit(ctx.scope, 'invoice.paid', invoice, ctx.eventRequest, previous);
}

/**
 * Pays an open or uncollectible invoice (a draft is finalized first): out of band, or by
 * charging a payment method through a PaymentIntent. A declined card emits
 * `invoice.payment_failed` and raises Stripe's 402.
 */
export function payInvoice(ctx: ApiContext, input: FormObject, id: string): Stripe.Invoice {
  const params = parseParams(input, {
    forgive: param.boolean(),
    off_session: param.boolean(),
    paid_out_of_band: param.boolean(),
    payment_method: param.string(),
    expand: expandParam,
  });
  checkExpandPaths(params.expand, EXPANDABLE);
  const invoice = ctx.state.invoices.get(ctx.scope, id, 'invoice');
  if (invoice.status === 'paid') {
    throw invalidRequest(`Invoice ${invoice.id} is already paid.`);
  }
  if (invoice.status === 'void') {
    throw invalidRequest(`Invoice ${invoice.id} is void, so it can no longer be paid.`);
  }
  if (params.paid_out_of_band === true && params.payment_method !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: paid_out_of_band, payment_method.', {
      code: 'parameters_exclusive',
      param: 'paid_out_of_band',
    });
  }
  if (params.paid_out_of_band !== true && params.payment_method === undefined) {
    throw invalidRequest(
      `Invoice ${invoice.id} cannot be paid: its customer has no default payment method. Pass payment_method or paid_out_of_band=true.`,
      { param: 'payment_method' },
    );
  }
  if (invoice.status === 'draft') {
    finalize(ctx, invoice, undefined);
    if (invoice.status === 'paid') {
      return presentInvoice(ctx, invoice, params.expand);
    }
  }

  if (params.paid_out_of_band === true) {
    markPaid(ctx, invoice, invoice.amount_remaining);
    return presentInvoice(ctx, invoice, params.expand);
  }

  chargeInvoice(ctx, invoice, params.payment_method as string);
  return presentInvoice(ctx, invoice, params.expand);
}

function chargeInvoice(ctx: ApiContext, invoice: Stripe.Invoice, paymentMethod: string): void {
  invoice.attempt_count += 1;
  invoice.attempted = true;
  let intent: Stripe.PaymentIntent;
  try {
    intent = createPaymentIntent(ctx, {
      amount: String(invoice.amount_remaining),
      currency: invoice.currency,
      customer: String(invoice.customer),
      payment_method: paymentMethod,
      confirm: 'true',
      allowed_payment_method_types: { '0': 'card' },
      description: `Payment for Invoice ${invoice.number ?? invoice.id}`,
    });
  } catch (error) {
    if (error instanceof StripeApiError && error.statusCode === 402) {
      changed(ctx, invoice, 'invoice.payment_failed');
    }
    throw error;
  }
  if (intent.status !== 'succeeded') {
    changed(ctx, invoice, 'invoice.payment_action_required');
    throw new StripeApiError(402, {
      type: 'card_error',
      code: 'invoice_payment_intent_requires_action',
      message: `Payment for invoice ${invoice.id} requires the customer to authenticate the card.`,
      payment_intent: intent,
    });
  }
  markPaid(ctx, invoice, 0);
}

/**
 * Records the customer's payment attempt on the hosted invoice page, which the emulator runs
 * without a PaymentIntent: `succeeded` pays the invoice, `failed` emits `invoice.payment_failed`.
 * The events carry no request, like those of Stripe's hosted pages.
 */
export function payOnHostedPage(ctx: OperationContext, invoice: Stripe.Invoice, outcome: 'succeeded' | 'failed'): void {
  if (invoice.status !== 'open' && invoice.status !== 'uncollectible') {
    throw invalidRequest(`Invoice ${invoice.id} has a status of ${String(invoice.status)} and cannot be paid.`);
  }
  invoice.attempt_count += 1;
  invoice.attempted = true;
  if (outcome === 'failed') {
    changed(ctx, invoice, 'invoice.payment_failed');
    return;
  }
  markPaid(ctx, invoice, 0);
}

export function sendInvoice(ctx: ApiContext, input: FormObject, id: string): Stripe.Invoice {
  const params = parseParams(input, { expand: expandParam });
  checkExpandPaths(params.expand, EXPANDABLE);
  const invoice = ctx.state.invoices.get(ctx.scope, id, 'invoice');
  if (invoice.status === 'void') {
    throw invalidRequest(`Invoice ${invoice.id} is void, so it cannot be sent.`);
  }
  const customer = ctx.state.customers.get(ctx.scope, String(invoice.customer), 'customer');
  if (!customer.email) {
    throw invalidRequest(`Invoice ${invoice.id} cannot be sent because customer ${customer.id} has no email address.`, {
      param: 'customer',
    });
  }
  if (invoice.status === 'draft') {
    finalize(ctx, invoice, undefined);
  }
  // Test mode sends no email, but the event is emitted all the same.
  ctx.state.emit(ctx.scope, 'invoice.sent', invoice, ctx.eventRequest);
  return presentInvoice(ctx, invoice, params.expand);
}

export function voidInvoice(ctx: ApiContext, input: FormObject, id: string): Stripe.Invoice {
  const params = parseParams(input, { expand: expandParam });
  checkExpandPaths(params.expand, EXPANDABLE);
  const invoice = ctx.state.invoices.get(ctx.scope, id, 'invoice');
  if (invoice.status !== 'open' && invoice.status !== 'uncollectible') {
    throw invalidRequest(
      `Invoice ${invoice.id} has a status of ${invoice.status}; only open or uncollectible invoices can be voided.`,
    );
  }
  const previous = { status: invoice.status };
  invoice.status = 'void';
  invoice.amount_remaining = 0;
  invoice.next_payment_attempt = null;
  invoice.status_transitions.voided_at = nowSeconds();
  changed(ctx, invoice, 'invoice.voided', previous);
  return presentInvoice(ctx, invoice, params.expand);
}

export function markInvoiceUncollectible(ctx: ApiContext, input: FormObject, id: string): Stripe.Invoice {
  const params = parseParams(input, { expand: expandParam });
  checkExpandPaths(params.expand, EXPANDABLE);
  const invoice = ctx.state.invoices.get(ctx.scope, id, 'invoice');
  if (invoice.status !== 'open') {
    throw invalidRequest(`Invoice ${invoice.id} has a status of ${invoice.status}; only open invoices can be marked uncollectible.`);
  }
  const previous = { status: invoice.status };
  invoice.status = 'uncollectible';
  invoice.status_transitions.marked_uncollectible_at = nowSeconds();
  changed(ctx, invoice, 'invoice.marked_uncollectible', previous);
  return presentInvoice(ctx, invoice, params.expand);
}

export function listInvoices(ctx: ApiContext, input: FormObject): ListObject<Stripe.Invoice> {
  const params = parseParams(input, {
    ...listParams,
    customer: param.string(),
    status: param.oneOf(['draft', 'open', 'paid', 'uncollectible', 'void']),
    collection_method: collectionMethod,
  });
  const invoices = ctx.state.invoices.list(
    ctx.scope,
    (invoice) =>
      (params.customer === undefined || invoice.customer === params.customer) &&
      (params.status === undefined || invoice.status === params.status) &&
      (params.collection_method === undefined || invoice.collection_method === params.collection_method),
  );
  const page = paginate(invoices, params, '/v1/invoices', ctx.state.invoices.label);
  return { ...page, data: page.data.map((invoice) => structuredClone(invoice)) };
}

export function listInvoiceLines(ctx: ApiContext, input: FormObject, id: string): ListObject<Stripe.InvoiceLineItem> {
  const params = parseParams(input, listParams);
  const invoice = ctx.state.invoices.get(ctx.scope, id, 'invoice');
  const lines = itemsOf(ctx, invoice.id).map((item) => lineItemFor(item, invoice.id));
  // paginate() needs a `created` to sort by; lines keep the order their items were added in.
  const page = paginate(
    lines.map((line) => ({ ...line, created: 0 })),
    params,
    `/v1/invoices/${invoice.id}/lines`,
    'line_item',
  );
  return { ...page, data: page.data.map(({ created: _created, ...line }) => line) };
}

/** The query fields of invoice search (docs.stripe.com/search#query-fields-for-invoices). */
const INVOICE_QUERY_FIELDS: Record<string, FieldReader<Stripe.Invoice>> = {
  created: (invoice) => invoice.created,
  currency: (invoice) => invoice.currency,
  customer: (invoice) => (typeof invoice.customer === 'string' ? invoice.customer : (invoice.customer?.id ?? null)),
  metadata: (invoice, clause) => (clause.metadataKey !== undefined ? invoice.metadata?.[clause.metadataKey] : undefined),
  number: (invoice) => invoice.number,
  receipt_number: (invoice) => invoice.receipt_number,
  status: (invoice) => invoice.status,
  total: (invoice) => invoice.total,
};

/**
 * Searches invoices with Stripe's query language. Like Stripe, it reads a lagging index: an
 * invoice shows up, or shows a change, only `searchIndexDelayMs` after it happened. The
 * results are the invoices as they are now.
 */
export function searchInvoices(ctx: ApiContext, input: FormObject): Stripe.ApiSearchResult<Stripe.Invoice> {
  const params = parseParams(input, {
    query: param.string({ maxLength: 5000 }),
    limit: param.integer({ min: 1, max: 100 }),
    page: param.string({ maxLength: 5000 }),
    expand: expandParam,
  });
  if (params.query === undefined) {
    throw parameterMissing('query');
  }
  const predicate = searchPredicate(parseSearchQuery(params.query), INVOICE_QUERY_FIELDS);
  const offset = decodeSearchPage(params.page);
  const limit = params.limit ?? 10;
  const ids = ctx.state.invoiceSearchIndex
    .search(ctx.scope, predicate)
    .filter((invoiceId) => ctx.state.invoices.find(ctx.scope, invoiceId) !== undefined);
  const pageIds = ids.slice(offset, offset + limit);
  const hasMore = ids.length > offset + limit;
  return {
    object: 'search_result',
    data: pageIds.map((invoiceId) => structuredClone(ctx.state.invoices.get(ctx.scope, invoiceId, 'invoice'))),
    has_more: hasMore,
    next_page: hasMore ? encodeSearchPage(offset + limit) : null,
    url: '/v1/invoices/search',
  };
}
