import { randomInt, randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import type { FormObject } from './form-decoding';
import { newId, nowSeconds } from './ids';
import { expandFields, expandList, paginate, type Expanders, type ListObject } from './object-store';
import { expandParam, listParams, param, parseParams } from './params';
import type { ApiContext, EmulatorState, OperationContext } from './state';
import type { Decline, ResolvedPaymentMethod } from './test-cards';

export interface ChargeResult {
  /** The decline, or undefined for an authorized charge. */
  decline?: Decline;
  captured: boolean;
  /** Whether the payment went through a 3D Secure challenge first. */
  authenticated: boolean;
}

function sellerMessage(decline: Decline): string {
  if (decline.outcomeType === 'blocked') {
    return 'Stripe blocked this payment as too risky.';
  }
  if (decline.declineCode === 'generic_decline') {
    return 'The bank did not return any further details with this decline.';
  }
  return `The bank returned the decline code \`${decline.declineCode}\`.`;
}

function outcomeFor(decline: Decline | undefined): Stripe.Charge.Outcome {
  if (!decline) {
    return {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: 'approved_by_network',
      reason: null,
      risk_level: 'normal',
      risk_score: 32,
      seller_message: 'Payment complete.',
      type: 'authorized',
    };
  }
  const blocked = decline.outcomeType === 'blocked';
  return {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    network_status: blocked ? 'not_sent_to_network' : 'declined_by_network',
    reason: blocked ? 'highest_risk_level' : decline.declineCode,
    risk_level: blocked ? 'highest' : 'normal',
    risk_score: blocked ? 95 : 32,
    seller_message: sellerMessage(decline),
    type: decline.outcomeType,
  };
}

/** Creates and stores the charge of one payment attempt on a PaymentIntent. */
export function createCharge(
  ctx: OperationContext,
  intent: Stripe.PaymentIntent,
  method: ResolvedPaymentMethod,
  result: ChargeResult,
): Stripe.Charge {
  const card = method.paymentMethod.card;
  const paid = result.decline === undefined;
  const id = newId('ch');
  const charge: Stripe.Charge = {
    id,
    object: 'charge',
    amount: intent.amount,
    amount_captured: paid && result.captured ? intent.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: paid && result.captured ? newId('txn') : null,
    billing_details: method.paymentMethod.billing_details,
    calculated_statement_descriptor: (ctx.account.displayName ?? 'STRIPE EMULATOR').toUpperCase().slice(0, 22),
    captured: paid && result.captured,
    created: nowSeconds(),
    currency: intent.currency,
    customer: intent.customer,
    description: intent.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: result.decline?.code ?? null,
    failure_message: result.decline?.message ?? null,
    fraud_details: {},
    livemode: intent.livemode,
    // Stripe copies the PaymentIntent's metadata onto its charges.
    metadata: { ...intent.metadata },
    on_behalf_of: null,
    outcome: outcomeFor(result.decline),
    paid,
    payment_intent: intent.id,
    payment_method: method.paymentMethod.id,
    payment_method_details: {
      card: {
        amount_authorized: paid ? intent.amount : null,
        authorization_code: paid ? String(randomInt(100000, 1000000)) : null,
        brand: card?.brand ?? null,
        checks: card?.checks ?? null,
        country: card?.country ?? null,
        electronic_commerce_indicator: null,
        exp_month: card?.exp_month ?? 12,
        exp_year: card?.exp_year ?? new Date().getUTCFullYear() + 3,
        fingerprint: card?.fingerprint ?? null,
        funding: card?.funding ?? null,
        installments: null,
        last4: card?.last4 ?? null,
        mandate: null,
        network: card?.brand ?? null,
        network_transaction_id: paid ? newId('ntx', 15) : null,
        regulated_status: 'unregulated',
        three_d_secure: result.authenticated
          ? {
              authentication_flow: 'challenge',
              electronic_commerce_indicator: '05',
              exemption_indicator: null,
              result: 'authenticated',
              result_reason: null,
              transaction_id: randomUUID(),
              version: '2.2.0',
            }
          : null,
        transaction_link_id: null,
        wallet: null,
      },
      type: 'card',
    },
    receipt_email: intent.receipt_email,
    receipt_number: null,
    receipt_url: paid ? `${ctx.state.baseUrl}/receipts/${id}` : null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: intent.statement_descriptor,
    statement_descriptor_suffix: intent.statement_descriptor_suffix,
    status: paid ? 'succeeded' : 'failed',
    transfer_data: null,
    transfer_group: null,
  };
  return ctx.state.charges.insert(ctx.scope, charge);
}

/** Lists the refunds of a charge, newest first, in Stripe's list shape. */
export function chargeRefunds(
  state: EmulatorState,
  scope: OperationContext['scope'],
  charge: Stripe.Charge,
): ListObject<Stripe.Refund> {
  const refunds = state.refunds.list(scope, (refund) => refund.charge === charge.id);
  return {
    object: 'list',
    data: refunds.map((refund) => structuredClone(refund)),
    has_more: false,
    url: `/v1/charges/${charge.id}/refunds`,
  };
}

function chargeExpanders(ctx: OperationContext): Expanders {
  return {
    payment_intent: (id) => structuredClone(ctx.state.paymentIntents.get(ctx.scope, id)),
  };
}

/** Returns a copy of the charge for a response, with `expand[]` applied (`refunds`, `payment_intent`). */
export function presentCharge(
  ctx: OperationContext,
  charge: Stripe.Charge,
  expand: readonly string[] = [],
): Stripe.Charge {
  const copy = structuredClone(charge);
  if (expand.includes('refunds')) {
    copy.refunds = chargeRefunds(ctx.state, ctx.scope, charge);
  }
  return expandFields(
    copy,
    expand.filter((path) => path !== 'refunds'),
    chargeExpanders(ctx),
  );
}

export function retrieveCharge(ctx: ApiContext, input: FormObject, id: string): Stripe.Charge {
  const params = parseParams(input, { expand: expandParam });
  return presentCharge(ctx, ctx.state.charges.get(ctx.scope, id), params.expand);
}

export function listCharges(ctx: ApiContext, input: FormObject): ListObject<Stripe.Charge> {
  const params = parseParams(input, { ...listParams, payment_intent: param.string(), customer: param.string() });
  const charges = ctx.state.charges.list(
    ctx.scope,
    (charge) =>
      (params.payment_intent === undefined || charge.payment_intent === params.payment_intent) &&
      (params.customer === undefined || charge.customer === params.customer),
  );
  const page = paginate(charges, params, '/v1/charges', ctx.state.charges.label);
  const expand = params.expand ?? [];
  const withRefunds = expand.includes('data.refunds');
  const copy: ListObject<Stripe.Charge> = {
    ...page,
    data: page.data.map((charge) => ({
      ...structuredClone(charge),
      ...(withRefunds ? { refunds: chargeRefunds(ctx.state, ctx.scope, charge) } : {}),
    })),
  };
  return expandList(
    copy,
    expand.filter((path) => path !== 'data.refunds'),
    chargeExpanders(ctx),
  );
}
