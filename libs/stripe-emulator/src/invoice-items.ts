import type Stripe from 'stripe';
import { normalizeCurrency } from './currencies';
import { invalidRequest, parameterMissing } from './errors';
import type { FormObject } from './form-decoding';
import { newId, nowSeconds } from './ids';
import { checkExpandPaths, paginate, type ListObject } from './object-store';
import { expandParam, initialMetadata, listParams, mergeMetadata, param, parseParams } from './params';
import type { ApiContext, OperationContext } from './state';

// Stripe allows at most 250 invoice items on one invoice.
export const MAX_ITEMS_PER_INVOICE = 250;

// Stripe's decimal strings: an optional sign, digits, and at most 12 decimal places.
const DECIMAL_FORMAT = /^-?\d+(\.\d{1,12})?$/;

/**
 * An invoice item as the emulator stores it. Stripe's invoice items have a `date` but no
 * `created`; the store sorts by `created`, which `presentItem` leaves out of responses.
 */
export type StoredInvoiceItem = Stripe.InvoiceItem & { created: number };

export function presentItem(item: StoredInvoiceItem): Stripe.InvoiceItem {
  const { created: _created, ...wire } = structuredClone(item);
  return wire;
}

/** On the wire a Stripe decimal is a string such as "1500" or "12.5". */
export function wireDecimal(value: string): Stripe.Decimal {
  return value as unknown as Stripe.Decimal;
}

function parseDecimal(value: string | undefined, name: string): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!DECIMAL_FORMAT.test(value)) {
    throw invalidRequest(`Invalid decimal: ${value}`, { param: name });
  }
  return Number(value);
}

const periodParam = param.object({ start: param.integer({ min: 0 }), end: param.integer({ min: 0 }) });

const createParams = {
  amount: param.integer(),
  currency: param.string(),
  customer: param.string(),
  description: param.string({ maxLength: 5000 }),
  discountable: param.boolean(),
  invoice: param.string(),
  metadata: param.metadata(),
  period: periodParam,
  quantity: param.integer({ min: 0 }),
  unit_amount_decimal: param.string(),
  expand: expandParam,
} as const;

const updateParams = {
  amount: param.integer(),
  description: param.string({ maxLength: 5000 }),
  discountable: param.boolean(),
  metadata: param.metadata(),
  period: periodParam,
  quantity: param.integer({ min: 0 }),
  unit_amount_decimal: param.string(),
  expand: expandParam,
} as const;

/** Returns the invoice a new item goes on, which must be a draft of the same customer with room for another item. */
function targetInvoice(ctx: OperationContext, invoiceId: string, customerId: string | undefined): Stripe.Invoice {
  const invoice = ctx.state.invoices.get(ctx.scope, invoiceId, 'invoice');
  if (invoice.status !== 'draft') {
    throw invalidRequest(
      `You can only add invoice items to draft invoices. Invoice ${invoice.id} has a status of ${invoice.status}.`,
      { code: 'invoice_not_editable', param: 'invoice' },
    );
  }
  if (customerId !== undefined && customerId !== invoice.customer) {
    throw invalidRequest(`The invoice ${invoice.id} belongs to another customer than ${customerId}.`, { param: 'customer' });
  }
  const items = itemsOf(ctx, invoice.id);
  if (items.length >= MAX_ITEMS_PER_INVOICE) {
    throw invalidRequest(`An invoice can have at most ${MAX_ITEMS_PER_INVOICE} invoice items.`, { param: 'invoice' });
  }
  return invoice;
}

/** Returns the items of an invoice in the order they were added. */
export function itemsOf(ctx: OperationContext, invoiceId: string): StoredInvoiceItem[] {
  return ctx.state.invoiceItems.list(ctx.scope, (item) => item.invoice === invoiceId).reverse();
}

/** Builds the invoice's line for one of its items; the line id follows from the item id. */
export function lineItemFor(item: Stripe.InvoiceItem, invoiceId: string): Stripe.InvoiceLineItem {
  return {
    id: `il_${item.id.slice('ii_'.length)}`,
    object: 'line_item',
    amount: item.amount,
    currency: item.currency,
    description: item.description,
    discount_amounts: [],
    discountable: item.discountable,
    discounts: [],
    invoice: invoiceId,
    livemode: item.livemode,
    metadata: structuredClone(item.metadata ?? {}),
    parent: {
      type: 'invoice_item_details',
      invoice_item_details: {
        invoice_item: item.id,
        proration: false,
        proration_details: { credited_items: null },
        subscription: null,
      },
      subscription_item_details: null,
    },
    period: structuredClone(item.period),
    pretax_credit_amounts: [],
    pricing: structuredClone(item.pricing),
    quantity: item.quantity,
    quantity_decimal: item.quantity_decimal,
    subscription: null,
    subtotal: item.amount,
    taxes: [],
  };
}

/** Stripe embeds up to this many lines in an invoice; `GET /v1/invoices/:id/lines` pages the rest. */
const EMBEDDED_LINES = 10;

/**
 * Recomputes a draft's lines and amounts from its items. Finalized invoices keep theirs, as in
 * Stripe, where items can change only while the invoice is a draft.
 */
export function refreshDraftTotals(ctx: OperationContext, invoice: Stripe.Invoice): void {
  if (invoice.status !== 'draft') {
    return;
  }
  const lines = itemsOf(ctx, invoice.id).map((item) => lineItemFor(item, invoice.id));
  const total = lines.reduce((sum, line) => sum + line.amount, 0);
  invoice.lines = {
    object: 'list',
    data: lines.slice(0, EMBEDDED_LINES),
    has_more: lines.length > EMBEDDED_LINES,
    url: `/v1/invoices/${invoice.id}/lines`,
  };
  invoice.subtotal = total;
  invoice.subtotal_excluding_tax = total;
  invoice.total = total;
  invoice.total_excluding_tax = total;
  invoice.amount_due = Math.max(total, 0);
  invoice.amount_remaining = Math.max(total - invoice.amount_paid, 0);
}

function computeAmount(
  amount: number | undefined,
  unitAmountDecimal: string | undefined,
  quantity: number,
): { amount: number; unitAmountDecimal: string } {
  if (amount !== undefined && unitAmountDecimal !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: amount, unit_amount_decimal.', {
      code: 'parameters_exclusive',
      param: 'amount',
    });
  }
  if (amount !== undefined) {
    if (quantity !== 1) {
      throw invalidRequest('When passing amount, quantity must be 1. Use unit_amount_decimal to bill several units.', {
        param: 'quantity',
      });
    }
    return { amount, unitAmountDecimal: String(amount) };
  }
  const unit = parseDecimal(unitAmountDecimal, 'unit_amount_decimal');
  if (unit === undefined || unitAmountDecimal === undefined) {
    throw parameterMissing('amount');
  }
  // Stripe rounds a fractional total to the nearest minor unit.
  return { amount: Math.round(unit * quantity), unitAmountDecimal };
}

export function createInvoiceItem(ctx: ApiContext, input: FormObject): Stripe.InvoiceItem {
  const params = parseParams(input, createParams);
  checkExpandPaths(params.expand, []);
  const invoice = params.invoice !== undefined ? targetInvoice(ctx, params.invoice, params.customer) : undefined;
  const customerId = params.customer ?? (invoice?.customer as string | undefined);
  if (customerId === undefined) {
    throw parameterMissing('customer');
  }
  const customer = ctx.state.customers.get(ctx.scope, customerId, 'customer');
  const currency = params.currency !== undefined ? normalizeCurrency(params.currency) : (invoice?.currency ?? customer.currency);
  if (!currency) {
    throw parameterMissing('currency');
  }
  if (invoice && currency !== invoice.currency) {
    throw invalidRequest(
      `The currency of the invoice item (${currency}) must match the currency of the invoice ${invoice.id} (${invoice.currency}).`,
      { param: 'currency' },
    );
  }
  const quantity = params.quantity ?? 1;
  const { amount, unitAmountDecimal } = computeAmount(params.amount, params.unit_amount_decimal, quantity);

  const date = nowSeconds();
  const item: StoredInvoiceItem = {
    id: newId('ii'),
    created: date,
    object: 'invoiceitem',
    amount,
    currency,
    customer: customer.id,
    customer_account: null,
    date,
    description: params.description ?? null,
    discountable: params.discountable ?? amount >= 0,
    discounts: [],
    invoice: invoice?.id ?? null,
    livemode: ctx.scope.livemode,
    metadata: initialMetadata(params.metadata),
    net_amount: amount,
    parent: null,
    period: params.period?.start !== undefined && params.period.end !== undefined
      ? { start: params.period.start, end: params.period.end }
      : { start: date, end: date },
    pricing: { type: 'price_details', unit_amount_decimal: wireDecimal(unitAmountDecimal) },
    proration: false,
    quantity,
    quantity_decimal: wireDecimal(String(quantity)),
    tax_rates: [],
    test_clock: null,
  };
  ctx.state.invoiceItems.insert(ctx.scope, item);
  ctx.state.emit(ctx.scope, 'invoiceitem.created', presentItem(item), ctx.eventRequest);
  if (invoice) {
    refreshDraftTotals(ctx, invoice);
    ctx.state.invoiceSearchIndex.indexLater(ctx.scope, invoice);
  }
  return presentItem(item);
}

export function retrieveInvoiceItem(ctx: ApiContext, input: FormObject, id: string): Stripe.InvoiceItem {
  const params = parseParams(input, { expand: expandParam });
  checkExpandPaths(params.expand, []);
  return presentItem(ctx.state.invoiceItems.get(ctx.scope, id));
}

/** Raises Stripe's 400 when the item sits on an invoice that is no longer a draft. */
function requireEditable(ctx: OperationContext, item: StoredInvoiceItem): Stripe.Invoice | undefined {
  if (typeof item.invoice !== 'string') {
    return undefined;
  }
  const invoice = ctx.state.invoices.get(ctx.scope, item.invoice, 'invoice');
  if (invoice.status !== 'draft') {
    throw invalidRequest(
      `The invoice item ${item.id} is on invoice ${invoice.id}, which is no longer a draft, so it cannot be changed.`,
      { code: 'invoice_not_editable' },
    );
  }
  return invoice;
}

export function updateInvoiceItem(ctx: ApiContext, input: FormObject, id: string): Stripe.InvoiceItem {
  const params = parseParams(input, updateParams);
  checkExpandPaths(params.expand, []);
  const item = ctx.state.invoiceItems.get(ctx.scope, id);
  const invoice = requireEditable(ctx, item);

  const previous = presentItem(item);
  if (params.amount !== undefined || params.unit_amount_decimal !== undefined || params.quantity !== undefined) {
    const quantity = params.quantity ?? item.quantity;
    const unit = params.unit_amount_decimal ?? (params.amount === undefined ? String(item.pricing?.unit_amount_decimal) : undefined);
    const computed = computeAmount(params.amount, unit, quantity);
    item.amount = computed.amount;
    item.net_amount = computed.amount;
    item.quantity = quantity;
    item.quantity_decimal = wireDecimal(String(quantity));
    item.pricing = { type: 'price_details', unit_amount_decimal: wireDecimal(computed.unitAmountDecimal) };
  }
  if (params.description !== undefined) {
    item.description = params.description;
  }
  if (params.discountable !== undefined) {
    item.discountable = params.discountable;
  }
  if (params.period?.start !== undefined && params.period.end !== undefined) {
    item.period = { start: params.period.start, end: params.period.end };
  }
  item.metadata = mergeMetadata(item.metadata ?? {}, params.metadata);
  ctx.state.emit(ctx.scope, 'invoiceitem.updated', presentItem(item), ctx.eventRequest, previous);
  if (invoice) {
    refreshDraftTotals(ctx, invoice);
    ctx.state.invoiceSearchIndex.indexLater(ctx.scope, invoice);
  }
  return presentItem(item);
}

export function deleteInvoiceItem(ctx: ApiContext, input: FormObject, id: string): Stripe.DeletedInvoiceItem {
  parseParams(input, {});
  const item = ctx.state.invoiceItems.get(ctx.scope, id);
  const invoice = requireEditable(ctx, item);
  ctx.state.invoiceItems.delete(item.id);
  ctx.state.emit(ctx.scope, 'invoiceitem.deleted', presentItem(item), ctx.eventRequest);
  if (invoice) {
    refreshDraftTotals(ctx, invoice);
    ctx.state.invoiceSearchIndex.indexLater(ctx.scope, invoice);
  }
  return { id: item.id, object: 'invoiceitem', deleted: true };
}

export function listInvoiceItems(ctx: ApiContext, input: FormObject): ListObject<Stripe.InvoiceItem> {
  const params = parseParams(input, {
    ...listParams,
    customer: param.string(),
    invoice: param.string(),
    pending: param.boolean(),
  });
  checkExpandPaths(params.expand, []);
  const items = ctx.state.invoiceItems.list(
    ctx.scope,
    (item) =>
      (params.customer === undefined || item.customer === params.customer) &&
      (params.invoice === undefined || item.invoice === params.invoice) &&
      (params.pending === undefined || (item.invoice === null) === params.pending),
  );
  const page = paginate(items, params, '/v1/invoiceitems', ctx.state.invoiceItems.label);
  return { ...page, data: page.data.map(presentItem) };
}
