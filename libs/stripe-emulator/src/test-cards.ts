import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import { resourceMissing } from './errors';
import { newId, nowSeconds } from './ids';
import type { OperationContext } from './state';

/** The details of a card decline, as Stripe reports them in its card_error and on the failed charge. */
export interface Decline {
  code: string;
  declineCode: string;
  message: string;
  /** `outcome.type` of the failed charge: `issuer_declined`, or `blocked` for Radar blocks. */
  outcomeType: 'issuer_declined' | 'blocked';
}

export type CardBehavior =
  | { kind: 'succeed' }
  | { kind: 'decline'; decline: Decline }
  /** 3D Secure is required. Once authenticated, the payment succeeds or declines with `afterAuthentication`. */
  | { kind: 'authenticate'; afterAuthentication?: Decline };

/**
 * The course of refunds of a card's charges, after Stripe's refund test cards.
 * `pending_then_succeeded` (4000 0000 0000 7726) starts pending and succeeds
 * later. `succeeded_then_failed` (4000 0000 0000 5126) starts succeeded and
 * fails later with `expired_or_canceled_card`. Other cards refund at once.
 */
export type RefundBehavior = 'immediate' | 'pending_then_succeeded' | 'succeeded_then_failed';

export interface TestCard {
  brand: string;
  last4: string;
  funding: 'credit' | 'debit' | 'prepaid';
  behavior: CardBehavior;
  /** Immediate when missing. */
  refunds?: RefundBehavior;
}

const CARD_DECLINED = 'Your card was declined.';

function declined(declineCode: string, message = CARD_DECLINED, code = 'card_declined'): CardBehavior {
  return { kind: 'decline', decline: { code, declineCode, message, outcomeType: 'issuer_declined' } };
}

const SUCCEED: CardBehavior = { kind: 'succeed' };

/** Stripe's test PaymentMethod tokens (`pm_card_…`) and what a payment with each does. */
export const TEST_CARDS: Readonly<Record<string, TestCard>> = {
  pm_card_visa: { brand: 'visa', last4: '4242', funding: 'credit', behavior: SUCCEED },
  pm_card_visa_debit: { brand: 'visa', last4: '5556', funding: 'debit', behavior: SUCCEED },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444', funding: 'credit', behavior: SUCCEED },
  pm_card_mastercard_debit: { brand: 'mastercard', last4: '8210', funding: 'debit', behavior: SUCCEED },
  pm_card_mastercard_prepaid: { brand: 'mastercard', last4: '5100', funding: 'prepaid', behavior: SUCCEED },
  pm_card_amex: { brand: 'amex', last4: '8431', funding: 'credit', behavior: SUCCEED },
  pm_card_discover: { brand: 'discover', last4: '1117', funding: 'credit', behavior: SUCCEED },
  pm_card_diners: { brand: 'diners', last4: '0004', funding: 'credit', behavior: SUCCEED },
  pm_card_jcb: { brand: 'jcb', last4: '0505', funding: 'credit', behavior: SUCCEED },
  pm_card_unionpay: { brand: 'unionpay', last4: '0005', funding: 'credit', behavior: SUCCEED },
  pm_card_pendingRefund: { brand: 'visa', last4: '7726', funding: 'credit', behavior: SUCCEED, refunds: 'pending_then_succeeded' },
  pm_card_refundFail: { brand: 'visa', last4: '5126', funding: 'credit', behavior: SUCCEED, refunds: 'succeeded_then_failed' },
  pm_card_chargeDeclined: { brand: 'visa', last4: '0002', funding: 'credit', behavior: declined('generic_decline') },
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '9995',
    funding: 'credit',
    behavior: declined('insufficient_funds', 'Your card has insufficient funds.'),
  },
  pm_card_chargeDeclinedLostCard: { brand: 'visa', last4: '9987', funding: 'credit', behavior: declined('lost_card') },
  pm_card_chargeDeclinedStolenCard: {
    brand: 'visa',
    last4: '9979',
    funding: 'credit',
    behavior: declined('stolen_card'),
  },
  pm_card_chargeDeclinedExpiredCard: {
    brand: 'visa',
    last4: '0069',
    funding: 'credit',
    behavior: declined('expired_card', 'Your card has expired.', 'expired_card'),
  },
  pm_card_chargeDeclinedIncorrectCvc: {
    brand: 'visa',
    last4: '0127',
    funding: 'credit',
    behavior: declined('incorrect_cvc', "Your card's security code is incorrect.", 'incorrect_cvc'),
  },
  pm_card_chargeDeclinedProcessingError: {
    brand: 'visa',
    last4: '0119',
    funding: 'credit',
    behavior: declined(
      'processing_error',
      'An error occurred while processing your card. Try again in a little bit.',
      'processing_error',
    ),
  },
  pm_card_chargeDeclinedVelocityLimitExceeded: {
    brand: 'visa',
    last4: '6975',
    funding: 'credit',
    behavior: declined(
      'card_velocity_exceeded',
      'Your card was declined for making repeated attempts too frequently or exceeding its amount limit.',
    ),
  },
  pm_card_chargeDeclinedFraudulent: {
    brand: 'visa',
    last4: '0019',
    funding: 'credit',
    behavior: {
      kind: 'decline',
      decline: { code: 'card_declined', declineCode: 'fraudulent', message: CARD_DECLINED, outcomeType: 'blocked' },
    },
  },
  // Stripe also names the generic, insufficient-funds, lost and stolen declines with a `visa_` prefix.
  pm_card_visa_chargeDeclined: { brand: 'visa', last4: '0002', funding: 'credit', behavior: declined('generic_decline') },
  pm_card_visa_chargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '9995',
    funding: 'credit',
    behavior: declined('insufficient_funds', 'Your card has insufficient funds.'),
  },
  pm_card_visa_chargeDeclinedLostCard: { brand: 'visa', last4: '9987', funding: 'credit', behavior: declined('lost_card') },
  pm_card_visa_chargeDeclinedStolenCard: { brand: 'visa', last4: '9979', funding: 'credit', behavior: declined('stolen_card') },
  pm_card_authenticationRequired: {
    brand: 'visa',
    last4: '3184',
    funding: 'credit',
    behavior: { kind: 'authenticate' },
  },
  pm_card_threeDSecure2Required: {
    brand: 'visa',
    last4: '3220',
    funding: 'credit',
    behavior: { kind: 'authenticate' },
  },
  pm_card_authenticationRequiredChargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '3178',
    funding: 'credit',
    behavior: {
      kind: 'authenticate',
      afterAuthentication: {
        code: 'card_declined',
        declineCode: 'insufficient_funds',
        message: 'Your card has insufficient funds.',
        outcomeType: 'issuer_declined',
      },
    },
  },
};

export interface ResolvedPaymentMethod {
  paymentMethod: Stripe.PaymentMethod;
  card: TestCard;
}

/**
 * Resolves a `payment_method` parameter. A test token (`pm_card_visa`) creates a new
 * PaymentMethod, as Stripe does. An id the account created before is reused. Anything else
 * raises Stripe's "No such PaymentMethod" 404.
 */
export function resolvePaymentMethod(ctx: OperationContext, value: string, param: string): ResolvedPaymentMethod {
  const token = Object.hasOwn(TEST_CARDS, value) ? value : undefined;
  if (token === undefined) {
    const paymentMethod = ctx.state.paymentMethods.find(ctx.scope, value);
    const card = paymentMethod ? ctx.state.testCards.get(paymentMethod.id) : undefined;
    if (!paymentMethod || !card) {
      throw resourceMissing(ctx.state.paymentMethods.label, value, param);
    }
    return { paymentMethod, card };
  }

  const card = TEST_CARDS[token];
  const paymentMethod: Stripe.PaymentMethod = {
    id: newId('pm'),
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: {
      address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
      email: null,
      name: null,
      phone: null,
      tax_id: null,
    },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'unchecked' },
      country: 'US',
      display_brand: card.brand,
      exp_month: 12,
      exp_year: new Date().getUTCFullYear() + 3,
      // Same card number, same fingerprint: derived from the token so repeated use matches.
      fingerprint: createHash('sha256').update(token).digest('base64url').slice(0, 16),
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: nowSeconds(),
    customer: null,
    customer_account: null,
    livemode: ctx.scope.livemode,
    metadata: {},
    type: 'card',
  };
  ctx.state.paymentMethods.insert(ctx.scope, paymentMethod);
  ctx.state.testCards.set(paymentMethod.id, card);
  return { paymentMethod, card };
}
