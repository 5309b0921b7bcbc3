import type Stripe from 'stripe';
import { invalidRequest } from './errors';
import type { FormObject } from './form-decoding';
import { newId, nowSeconds } from './ids';
import { checkExpandPaths } from './object-store';
import { expandParam, mergeMetadata, param, parseParams } from './params';
import { presentIntent } from './payment-intents';
import type { ApiContext } from './state';

const EXPANDABLE = ['latest_charge', 'payment_method'];

const CANCELABLE_STATUSES = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
  'processing',
];

function unexpectedState(intent: Stripe.PaymentIntent, message: string): never {
  throw invalidRequest(message, {
    code: 'payment_intent_unexpected_state',
    paymentIntent: structuredClone(intent),
  });
}

/** Captures all or part of an authorized amount (`POST /v1/payment_intents/:id/capture`). */
export function capturePaymentIntent(ctx: ApiContext, input: FormObject, id: string): Stripe.PaymentIntent {
  const params = parseParams(input, {
    amount_to_capture: param.integer({ min: 1 }),
    final_capture: param.boolean(),
    metadata: param.metadata(),
    statement_descriptor: param.string({ maxLength: 22 }),
    statement_descriptor_suffix: param.string({ maxLength: 22 }),
    expand: expandParam,
  });
  const intent = ctx.state.paymentIntents.get(ctx.scope, id, 'intent');
  checkExpandPaths(params.expand, EXPANDABLE);
  if (intent.status !== 'requires_capture') {
    unexpectedState(
      intent,
      `This PaymentIntent could not be captured because it has a status of ${intent.status}. ` +
        'Only a PaymentIntent with one of the following statuses may be captured: requires_capture.',
    );
  }
  const amount = params.amount_to_capture ?? intent.amount_capturable;
  if (amount > intent.amount_capturable) {
    throw invalidRequest(
      `The amount to capture (${amount}) must be less than or equal to the amount capturable (${intent.amount_capturable}).`,
      { code: 'amount_too_large', param: 'amount_to_capture' },
    );
  }

  const charge = ctx.state.charges.get(ctx.scope, String(intent.latest_charge));
  charge.captured = true;
  charge.amount_captured = amount;
  // Stripe releases the uncaptured rest of the authorization, which shows as refunded.
  charge.amount_refunded = charge.amount - amount;
  charge.balance_transaction = newId('txn');
  intent.status = 'succeeded';
  intent.amount_received = amount;
  intent.amount_capturable = 0;
  intent.metadata = mergeMetadata(intent.metadata, params.metadata);
  intent.statement_descriptor = params.statement_descriptor ?? intent.statement_descriptor;
  intent.statement_descriptor_suffix = params.statement_descriptor_suffix ?? intent.statement_descriptor_suffix;
  ctx.state.emit(ctx.scope, 'charge.captured', charge, ctx.eventRequest);
  ctx.state.emit(ctx.scope, 'payment_intent.succeeded', intent, ctx.eventRequest);
  return presentIntent(ctx, intent, params.expand);
}

/** Cancels an unfinished intent and releases any authorization (`POST /v1/payment_intents/:id/cancel`). */
export function cancelPaymentIntent(ctx: ApiContext, input: FormObject, id: string): Stripe.PaymentIntent {
  const params = parseParams(input, {
    cancellation_reason: param.oneOf(['abandoned', 'duplicate', 'fraudulent', 'requested_by_customer']),
    expand: expandParam,
  });
  const intent = ctx.state.paymentIntents.get(ctx.scope, id, 'intent');
  checkExpandPaths(params.expand, EXPANDABLE);
  if (!CANCELABLE_STATUSES.includes(intent.status)) {
    unexpectedState(
      intent,
      `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent ` +
        `with one of the following statuses may be canceled: ${CANCELABLE_STATUSES.join(', ')}.`,
    );
  }
  if (intent.status === 'requires_capture' && typeof intent.latest_charge === 'string') {
    // NOTE: Stripe also records a refund for the released authorization. The emulator only
    // marks the charge refunded and emits no charge event for it.
    const charge = ctx.state.charges.get(ctx.scope, intent.latest_charge);
    charge.amount_refunded = charge.amount;
    charge.refunded = true;
  }
  intent.status = 'canceled';
  intent.canceled_at = nowSeconds();
  intent.cancellation_reason = params.cancellation_reason ?? null;
  intent.amount_capturable = 0;
  intent.next_action = null;
  ctx.state.emit(ctx.scope, 'payment_intent.canceled', intent, ctx.eventRequest);
  return presentIntent(ctx, intent, params.expand);
}
