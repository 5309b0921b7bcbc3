import type Stripe from 'stripe';
import { createCharge } from './charges';
import { docUrl, invalidRequest, StripeApiError } from './errors';
import { AUTOMATIC_REQUEST } from './events';
import { newId } from './ids';
import type { OperationContext } from './state';
import { resolvePaymentMethod, type Decline, type ResolvedPaymentMethod } from './test-cards';

export interface ConfirmInput {
  payment_method?: string;
  return_url?: string;
  receipt_email?: string | null;
  capture_method?: Stripe.PaymentIntent.CaptureMethod;
  setup_future_usage?: Stripe.PaymentIntent.SetupFutureUsage | null;
  /** `true`, `false`, `one_off` or `recurring`, as Stripe accepts. */
  off_session?: string;
  error_on_requires_action?: boolean;
}

const CONFIRMABLE_STATUSES = ['requires_confirmation', 'requires_payment_method', 'requires_action'];

// Payment method types that never send the customer to another site.
const NON_REDIRECT_TYPES = new Set(['card', 'card_present', 'link']);

const RETURN_URL_REQUIRED =
  'This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some of these ' +
  'payment methods might redirect your customer off of your website, you must provide a `return_url`. If you ' +
  "don't want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and " +
  '`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.';

const AUTHENTICATION_REQUIRED: Decline = {
  code: 'authentication_required',
  declineCode: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
  outcomeType: 'issuer_declined',
};

/** Checks whether a server-side confirm needs a `return_url` because the intent may use redirect-based methods. */
function mayRedirect(intent: Stripe.PaymentIntent): boolean {
  const automatic = intent.automatic_payment_methods;
  if (automatic?.enabled) {
    return automatic.allow_redirects !== 'never';
  }
  return intent.payment_method_types.some((type) => !NON_REDIRECT_TYPES.has(type));
}

/** Returns a copy of the intent for an error body, or undefined while the intent is not stored yet. */
function storedSnapshot(ctx: OperationContext, intent: Stripe.PaymentIntent): Stripe.PaymentIntent | undefined {
  return ctx.state.paymentIntents.find(ctx.scope, intent.id) ? structuredClone(intent) : undefined;
}

function unexpectedState(ctx: OperationContext, intent: Stripe.PaymentIntent, message: string): StripeApiError {
  return invalidRequest(message, {
    code: 'payment_intent_unexpected_state',
    paymentIntent: storedSnapshot(ctx, intent),
  });
}

/**
 * Runs the checks of a confirmation without changing the intent: its status, its payment
 * method, the `return_url` rule and the allowed payment method types. Creating with
 * `confirm=true` calls this before storing the intent, so a rejected request creates nothing.
 */
export function checkConfirmation(
  ctx: OperationContext,
  intent: Stripe.PaymentIntent,
  input: ConfirmInput,
): ResolvedPaymentMethod {
  if (!CONFIRMABLE_STATUSES.includes(intent.status)) {
    throw unexpectedState(
      ctx,
      intent,
      `You cannot confirm this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent ` +
        `with one of the following statuses may be confirmed: ${CONFIRMABLE_STATUSES.join(', ')}.`,
    );
  }

  const paymentMethod =
    input.payment_method ?? (intent.payment_method === null ? undefined : String(intent.payment_method));
  if (paymentMethod === undefined) {
    throw unexpectedState(
      ctx,
      intent,
      "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the " +
        'PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.',
    );
  }
  const method = resolvePaymentMethod(ctx, paymentMethod, 'payment_method');
  if (input.return_url === undefined && mayRedirect(intent)) {
    throw invalidRequest(RETURN_URL_REQUIRED, { paymentIntent: storedSnapshot(ctx, intent) });
  }
  if (!intent.payment_method_types.includes(method.paymentMethod.type)) {
    throw invalidRequest(
      `The provided PaymentMethod of type ${method.paymentMethod.type} is not allowed for this PaymentIntent. ` +
        `Please attach a PaymentMethod of one of the following types: ${intent.payment_method_types.join(', ')}.`,
      { code: 'payment_intent_incompatible_payment_method', param: 'payment_method' },
    );
  }
  return method;
}

/**
 * Confirms a PaymentIntent with its (or the given) payment method and runs the payment
 * attempt the test card prescribes. A decline raises Stripe's 402 card_error after the
 * intent, the failed charge and the events have been recorded.
 */
export function confirmPaymentIntent(ctx: OperationContext, intent: Stripe.PaymentIntent, input: ConfirmInput): void {
  runConfirmation(ctx, intent, checkConfirmation(ctx, intent, input), input);
}

/** Applies a checked confirmation to the intent and runs the payment attempt. */
export function runConfirmation(
  ctx: OperationContext,
  intent: Stripe.PaymentIntent,
  method: ResolvedPaymentMethod,
  input: ConfirmInput,
): void {
  intent.payment_method = method.paymentMethod.id;
  if (input.receipt_email !== undefined) {
    intent.receipt_email = input.receipt_email;
  }
  if (input.capture_method !== undefined) {
    intent.capture_method = input.capture_method;
  }
  if (input.setup_future_usage !== undefined) {
    intent.setup_future_usage = input.setup_future_usage;
  }

  const behavior = method.card.behavior;
  if (behavior.kind === 'succeed') {
    recordSuccess(ctx, intent, method, false);
    return;
  }
  if (behavior.kind === 'decline') {
    throw recordDecline(ctx, intent, method, behavior.decline, false);
  }
  const offSession = input.off_session !== undefined && input.off_session !== 'false';
  if (offSession || input.error_on_requires_action === true) {
    throw recordDecline(ctx, intent, method, AUTHENTICATION_REQUIRED, false);
  }
  requireAction(ctx, intent, input.return_url ?? null);
}

function requireAction(ctx: OperationContext, intent: Stripe.PaymentIntent, returnUrl: string | null): void {
  const authenticationUrl = `${ctx.state.baseUrl}/authenticate/${intent.id}`;
  intent.status = 'requires_action';
  intent.next_action =
    returnUrl !== null
      ? { type: 'redirect_to_url', redirect_to_url: { url: authenticationUrl, return_url: returnUrl } }
      : {
          type: 'use_stripe_sdk',
          use_stripe_sdk: {
            type: 'three_d_secure_redirect',
            stripe_js: authenticationUrl,
            source: newId('src'),
          },
        };
  ctx.state.emit(ctx.scope, 'payment_intent.requires_action', intent, ctx.eventRequest);
}

/** Records a successful attempt: a charge, then `requires_capture` or `succeeded` with Stripe's events. */
function recordSuccess(
  ctx: OperationContext,
  intent: Stripe.PaymentIntent,
  method: ResolvedPaymentMethod,
  authenticated: boolean,
): void {
  const manual = intent.capture_method === 'manual';
  const charge = createCharge(ctx, intent, method, { captured: !manual, authenticated });
  intent.latest_charge = charge.id;
  intent.last_payment_error = null;
  intent.next_action = null;
  ctx.state.emit(ctx.scope, 'charge.succeeded', charge, ctx.eventRequest);
  if (manual) {
    intent.status = 'requires_capture';
    intent.amount_capturable = intent.amount;
    ctx.state.emit(ctx.scope, 'payment_intent.amount_capturable_updated', intent, ctx.eventRequest);
  } else {
    intent.status = 'succeeded';
    intent.amount_received = intent.amount;
    ctx.state.emit(ctx.scope, 'payment_intent.succeeded', intent, ctx.eventRequest);
  }
}

/**
 * Records a declined attempt as Stripe does: a failed charge, the intent back in
 * `requires_payment_method` with `last_payment_error`, `charge.failed` and
 * `payment_intent.payment_failed`. Returns the 402 error for the API to raise.
 */
function recordDecline(
  ctx: OperationContext,
  intent: Stripe.PaymentIntent,
  method: ResolvedPaymentMethod,
  decline: Decline,
  authenticated: boolean,
): StripeApiError {
  const charge = createCharge(ctx, intent, method, { decline, captured: false, authenticated });
  const paymentMethod = structuredClone(method.paymentMethod);
  intent.latest_charge = charge.id;
  intent.status = 'requires_payment_method';
  intent.payment_method = null;
  intent.next_action = null;
  intent.last_payment_error = {
    type: 'card_error',
    code: decline.code,
    decline_code: decline.declineCode,
    message: decline.message,
    charge: charge.id,
    doc_url: docUrl(decline.code),
    payment_method: paymentMethod,
  };
  ctx.state.emit(ctx.scope, 'charge.failed', charge, ctx.eventRequest);
  ctx.state.emit(ctx.scope, 'payment_intent.payment_failed', intent, ctx.eventRequest);
  return new StripeApiError(
    402,
    {
      type: 'card_error',
      code: decline.code,
      decline_code: decline.declineCode,
      message: decline.message,
      charge: charge.id,
      doc_url: docUrl(decline.code),
      payment_intent: structuredClone(intent),
      payment_method: paymentMethod,
    },
    { replayable: true },
  );
}

/**
 * Finishes the 3D Secure step of an intent in `requires_action`, as the customer would in the
 * browser. Events carry no request, like those Stripe raises after a customer's action.
 */
export function completeAuthentication(
  ctx: OperationContext,
  intent: Stripe.PaymentIntent,
  outcome: 'succeeded' | 'failed',
): void {
  if (intent.status !== 'requires_action') {
    throw invalidRequest(
      `PaymentIntent ${intent.id} has status ${intent.status}; only requires_action can be authenticated.`,
      {
        code: 'payment_intent_unexpected_state',
      },
    );
  }
  const automatic: OperationContext = { ...ctx, eventRequest: AUTOMATIC_REQUEST };
  const method = resolvePaymentMethod(automatic, String(intent.payment_method), 'payment_method');
  if (outcome === 'failed') {
    intent.status = 'requires_payment_method';
    intent.next_action = null;
    intent.payment_method = null;
    intent.last_payment_error = {
      type: 'invalid_request_error',
      code: 'payment_intent_authentication_failure',
      message:
        'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new ' +
        'PaymentMethod to attempt to fulfill this PaymentIntent again.',
      doc_url: docUrl('payment_intent_authentication_failure'),
      payment_method: structuredClone(method.paymentMethod),
    };
    ctx.state.emit(ctx.scope, 'payment_intent.payment_failed', intent, AUTOMATIC_REQUEST);
    return;
  }
  const behavior = method.card.behavior;
  if (behavior.kind === 'authenticate' && behavior.afterAuthentication) {
    recordDecline(automatic, intent, method, behavior.afterAuthentication, true);
    return;
  }
  recordSuccess(automatic, intent, method, true);
}
