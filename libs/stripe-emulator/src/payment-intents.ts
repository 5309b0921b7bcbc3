import type Stripe from 'stripe';
import { presentCharge } from './charges';
import { checkChargeAmount, normalizeCurrency } from './currencies';
import { invalidRequest, parameterMissing, resourceMissing } from './errors';
import type { FormObject } from './form-decoding';
import { nowSeconds, newId, randomAlphanumeric } from './ids';
import { checkExpandPaths, expandFields, expandList, paginate, type Expanders, type ListObject } from './object-store';
import { expandParam, initialMetadata, listParams, mergeMetadata, param, parseParams } from './params';
import { checkConfirmation, confirmPaymentIntent, runConfirmation } from './payment-confirmation';
import type { ApiContext, OperationContext } from './state';
import { resolvePaymentMethod } from './test-cards';

// Payment method types offered when `automatic_payment_methods` decides (the emulated Dashboard setting).
const DASHBOARD_PAYMENT_METHOD_TYPES = ['card', 'link'];

const EXPANDABLE = ['latest_charge', 'payment_method'];

const paymentMethodTypes = param.array(param.string({ maxLength: 100 }));
const captureMethod = param.oneOf(['automatic', 'automatic_async', 'manual']);
const setupFutureUsage = param.emptyable(param.oneOf(['off_session', 'on_session']));
const offSession = param.oneOf(['true', 'false', 'one_off', 'recurring']);

const confirmParams = {
  payment_method: param.string(),
  return_url: param.string({ maxLength: 5000 }),
  receipt_email: param.emptyable(param.string({ maxLength: 800 })),
  capture_method: captureMethod,
  setup_future_usage: setupFutureUsage,
  off_session: offSession,
  error_on_requires_action: param.boolean(),
  use_stripe_sdk: param.boolean(),
  expand: expandParam,
} as const;

const createParams = {
  ...confirmParams,
  amount: param.integer({ min: 1 }),
  currency: param.string(),
  confirm: param.boolean(),
  confirmation_method: param.oneOf(['automatic', 'manual']),
  customer: param.string(),
  description: param.emptyable(param.string({ maxLength: 1000 })),
  metadata: param.metadata(),
  // `payment_method_types` is the older name of `allowed_payment_method_types`, and both are accepted.
  payment_method_types: paymentMethodTypes,
  allowed_payment_method_types: paymentMethodTypes,
  excluded_payment_method_types: paymentMethodTypes,
  automatic_payment_methods: param.object({
    enabled: param.boolean(),
    allow_redirects: param.oneOf(['always', 'never']),
  }),
  statement_descriptor: param.string({ maxLength: 22 }),
  statement_descriptor_suffix: param.string({ maxLength: 22 }),
  transfer_group: param.string(),
} as const;

const updateParams = {
  amount: param.integer({ min: 1 }),
  currency: param.string(),
  customer: param.string(),
  description: param.emptyable(param.string({ maxLength: 1000 })),
  metadata: param.metadata(),
  payment_method: param.string(),
  payment_method_types: paymentMethodTypes,
  allowed_payment_method_types: paymentMethodTypes,
  receipt_email: param.emptyable(param.string({ maxLength: 800 })),
  capture_method: captureMethod,
  setup_future_usage: setupFutureUsage,
  statement_descriptor: param.string({ maxLength: 22 }),
  statement_descriptor_suffix: param.string({ maxLength: 22 }),
  transfer_group: param.string(),
  expand: expandParam,
} as const;

// Fields Stripe lets you change whatever the intent's status is.
const ALWAYS_UPDATABLE = new Set(['description', 'metadata', 'receipt_email', 'expand']);
const UPDATABLE_STATUSES = ['requires_payment_method', 'requires_confirmation', 'requires_action'];

// A simplified RFC 5322 check: one `@`, no spaces, a dot in the domain.
const EMAIL_FORMAT = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function checkEmail(email: string | null | undefined, param: string): void {
  if (email && !EMAIL_FORMAT.test(email)) {
    throw invalidRequest(`Invalid email address: ${email}`, { code: 'email_invalid', param });
  }
}

// NOTE: any `cus_…` id is accepted without looking the customer up, and `customer` cannot be
// expanded.
function checkCustomer(customer: string | undefined): void {
  if (customer !== undefined && !/^cus_[A-Za-z0-9]+$/.test(customer)) {
    throw resourceMissing('customer', customer, 'customer');
  }
}

function intentExpanders(ctx: OperationContext): Expanders {
  return {
    latest_charge: (id) => presentCharge(ctx, ctx.state.charges.get(ctx.scope, id)),
    payment_method: (id) => structuredClone(ctx.state.paymentMethods.get(ctx.scope, id)),
  };
}

/** Returns a copy of the intent for a response, with `expand[]` applied. */
export function presentIntent(
  ctx: OperationContext,
  intent: Stripe.PaymentIntent,
  expand: readonly string[] = [],
): Stripe.PaymentIntent {
  return expandFields(structuredClone(intent), expand, intentExpanders(ctx));
}

function requireConfirmFlag(value: unknown, name: string, confirm: boolean | undefined): void {
  if (value !== undefined && confirm !== true) {
    throw invalidRequest(
      `The parameter \`${name}\` cannot be passed when creating a PaymentIntent unless \`confirm\` is set to true.`,
      { param: name },
    );
  }
}

export function createPaymentIntent(ctx: ApiContext, input: FormObject): Stripe.PaymentIntent {
  const params = parseParams(input, createParams);
  if (params.amount === undefined) {
    throw parameterMissing('amount');
  }
  if (params.currency === undefined) {
    throw parameterMissing('currency');
  }
  const currency = normalizeCurrency(params.currency);
  checkChargeAmount(params.amount, currency);
  checkCustomer(params.customer);
  checkEmail(params.receipt_email, 'receipt_email');
  checkExpandPaths(params.expand, EXPANDABLE);
  for (const name of ['return_url', 'off_session', 'error_on_requires_action'] as const) {
    requireConfirmFlag(params[name], name, params.confirm);
  }
  if (params.payment_method_types && params.allowed_payment_method_types) {
    throw invalidRequest(
      'You may only specify one of these parameters: allowed_payment_method_types, payment_method_types.',
      { code: 'parameters_exclusive', param: 'payment_method_types' },
    );
  }
  const explicitTypes = params.allowed_payment_method_types ?? params.payment_method_types;
  const automatic = params.automatic_payment_methods;
  if (explicitTypes && automatic) {
    throw invalidRequest(
      'You may only specify one of these parameters: automatic_payment_methods, payment_method_types.',
      { code: 'parameters_exclusive', param: 'automatic_payment_methods' },
    );
  }
  if (automatic && automatic.enabled === undefined) {
    throw parameterMissing('automatic_payment_methods[enabled]');
  }
  // Since API version 2023-08-16 Stripe enables automatic payment methods unless types are listed
  // (docs.stripe.com/changelog/2023-08-16/automatic-payment-methods).
  const automaticEnabled = explicitTypes === undefined && automatic?.enabled !== false;
  const types = explicitTypes ?? (automaticEnabled ? DASHBOARD_PAYMENT_METHOD_TYPES : ['card']);
  const excluded = params.excluded_payment_method_types ?? null;
  const method =
    params.payment_method !== undefined
      ? resolvePaymentMethod(ctx, params.payment_method, 'payment_method')
      : undefined;

  const id = newId('pi');
  const intent: Stripe.PaymentIntent = {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: (explicitTypes ?? null) as Stripe.PaymentIntent['allowed_payment_method_types'],
    amount: params.amount,
    amount_capturable: 0,
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: automaticEnabled
      ? { enabled: true, ...(automatic?.allow_redirects ? { allow_redirects: automatic.allow_redirects } : {}) }
      : null,
    canceled_at: null,
    cancellation_reason: null,
    // Since API version 2024-04-10 the default capture method is `automatic_async`
    // (docs.stripe.com/changelog/2024-04-10/automatic-sync-default-paymentintents).
    capture_method: params.capture_method ?? 'automatic_async',
    client_secret: `${id}_secret_${randomAlphanumeric(25)}`,
    confirmation_method: params.confirmation_method ?? 'automatic',
    created: nowSeconds(),
    currency,
    customer: params.customer ?? null,
    customer_account: null,
    description: params.description ?? null,
    excluded_payment_method_types: excluded as Stripe.PaymentIntent['excluded_payment_method_types'],
    last_payment_error: null,
    latest_charge: null,
    livemode: ctx.scope.livemode,
    managed_payments: null,
    metadata: initialMetadata(params.metadata),
    next_action: null,
    on_behalf_of: null,
    payment_method: method?.paymentMethod.id ?? null,
    payment_method_configuration_details: automaticEnabled
      ? { id: `pmc_${ctx.account.id.slice('acct_'.length)}`, parent: null }
      : null,
    payment_method_options: {},
    payment_method_types: types.filter((type) => !excluded?.includes(type)),
    payment_record: null,
    processing: null,
    receipt_email: params.receipt_email ?? null,
    review: null,
    setup_future_usage: params.setup_future_usage ?? null,
    shipping: null,
    source: null,
    statement_descriptor: params.statement_descriptor ?? null,
    statement_descriptor_suffix: params.statement_descriptor_suffix ?? null,
    status: method ? 'requires_confirmation' : 'requires_payment_method',
    transfer_data: null,
    transfer_group: params.transfer_group ?? null,
  };
  // The confirmation is checked before the intent is stored, so a rejected request creates nothing.
  const confirmation = params.confirm === true ? { ...params, payment_method: undefined } : undefined;
  const checkedMethod = confirmation ? checkConfirmation(ctx, intent, confirmation) : undefined;
  ctx.state.paymentIntents.insert(ctx.scope, intent);
  ctx.state.emit(ctx.scope, 'payment_intent.created', intent, ctx.eventRequest);
  if (confirmation && checkedMethod) {
    runConfirmation(ctx, intent, checkedMethod, confirmation);
  }
  return presentIntent(ctx, intent, params.expand);
}

export function retrievePaymentIntent(ctx: ApiContext, input: FormObject, id: string): Stripe.PaymentIntent {
  const params = parseParams(input, { expand: expandParam, client_secret: param.string() });
  const intent = ctx.state.paymentIntents.get(ctx.scope, id, 'intent');
  checkExpandPaths(params.expand, EXPANDABLE);
  return presentIntent(ctx, intent, params.expand);
}

export function updatePaymentIntent(ctx: ApiContext, input: FormObject, id: string): Stripe.PaymentIntent {
  const params = parseParams(input, updateParams);
  const intent = ctx.state.paymentIntents.get(ctx.scope, id, 'intent');
  checkExpandPaths(params.expand, EXPANDABLE);
  if (!UPDATABLE_STATUSES.includes(intent.status)) {
    const restricted = Object.keys(params).find((name) => !ALWAYS_UPDATABLE.has(name));
    if (restricted !== undefined) {
      throw invalidRequest(
        `This PaymentIntent's ${restricted} could not be updated because it has a status of ${intent.status}. ` +
          `You may only update the ${restricted} of a PaymentIntent with one of the following statuses: ` +
          `${UPDATABLE_STATUSES.join(', ')}.`,
        { code: 'payment_intent_unexpected_state', param: restricted, paymentIntent: structuredClone(intent) },
      );
    }
  }
  checkCustomer(params.customer);
  checkEmail(params.receipt_email, 'receipt_email');

  const currency = params.currency !== undefined ? normalizeCurrency(params.currency) : intent.currency;
  const amount = params.amount ?? intent.amount;
  if (params.amount !== undefined || params.currency !== undefined) {
    checkChargeAmount(amount, currency);
  }
  if (params.payment_method !== undefined) {
    intent.payment_method = resolvePaymentMethod(ctx, params.payment_method, 'payment_method').paymentMethod.id;
    intent.status = 'requires_confirmation';
    intent.next_action = null;
  }
  const types = params.allowed_payment_method_types ?? params.payment_method_types;
  if (types !== undefined) {
    intent.payment_method_types = types;
    intent.allowed_payment_method_types = types as Stripe.PaymentIntent['allowed_payment_method_types'];
    intent.automatic_payment_methods = null;
    intent.payment_method_configuration_details = null;
  }
  intent.amount = amount;
  intent.currency = currency;
  intent.customer = params.customer ?? intent.customer;
  intent.capture_method = params.capture_method ?? intent.capture_method;
  intent.statement_descriptor = params.statement_descriptor ?? intent.statement_descriptor;
  intent.statement_descriptor_suffix = params.statement_descriptor_suffix ?? intent.statement_descriptor_suffix;
  intent.transfer_group = params.transfer_group ?? intent.transfer_group;
  if (params.setup_future_usage !== undefined) {
    intent.setup_future_usage = params.setup_future_usage;
  }
  if (params.description !== undefined) {
    intent.description = params.description;
  }
  intent.metadata = mergeMetadata(intent.metadata, params.metadata);
  if (params.receipt_email !== undefined) {
    updateReceiptEmail(ctx, intent, params.receipt_email);
  }
  return presentIntent(ctx, intent, params.expand);
}

/** Sets the receipt address. On a paid intent Stripe also updates the charge and emits `charge.updated`. */
function updateReceiptEmail(ctx: ApiContext, intent: Stripe.PaymentIntent, email: string | null): void {
  intent.receipt_email = email;
  if (typeof intent.latest_charge !== 'string') {
    return;
  }
  const charge = ctx.state.charges.get(ctx.scope, intent.latest_charge);
  if (charge.paid && charge.receipt_email !== email) {
    const previous = charge.receipt_email;
    charge.receipt_email = email;
    ctx.state.emit(ctx.scope, 'charge.updated', charge, ctx.eventRequest, { receipt_email: previous });
  }
}

export function confirmPaymentIntentHandler(ctx: ApiContext, input: FormObject, id: string): Stripe.PaymentIntent {
  const params = parseParams(input, { ...confirmParams, client_secret: param.string() });
  const intent = ctx.state.paymentIntents.get(ctx.scope, id, 'intent');
  checkEmail(params.receipt_email, 'receipt_email');
  checkExpandPaths(params.expand, EXPANDABLE);
  confirmPaymentIntent(ctx, intent, params);
  return presentIntent(ctx, intent, params.expand);
}

export function listPaymentIntents(ctx: ApiContext, input: FormObject): ListObject<Stripe.PaymentIntent> {
  // NOTE: Stripe also takes `created` as a bare timestamp for an exact match; only the range form is emulated.
  const created = param.object({ gt: param.integer(), gte: param.integer(), lt: param.integer(), lte: param.integer() });
  const params = parseParams(input, { ...listParams, customer: param.string(), created });
  const range = params.created ?? {};
  const inRange = (at: number) =>
    (range.gt === undefined || at > range.gt) &&
    (range.gte === undefined || at >= range.gte) &&
    (range.lt === undefined || at < range.lt) &&
    (range.lte === undefined || at <= range.lte);
  const intents = ctx.state.paymentIntents.list(
    ctx.scope,
    (intent) => (params.customer === undefined || intent.customer === params.customer) && inRange(intent.created),
  );
  const page = paginate(intents, params, '/v1/payment_intents', ctx.state.paymentIntents.label);
  return expandList(
    { ...page, data: page.data.map((intent) => structuredClone(intent)) },
    params.expand ?? [],
    intentExpanders(ctx),
  );
}
