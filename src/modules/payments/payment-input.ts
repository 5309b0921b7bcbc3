import type { FieldError } from '@app/common/errors/domain-error';
import { checkAmountOfAnyCurrency, checkChargeAmount, currencyInfo } from '@app/common/money/currencies';
import { BLANK_MESSAGE, isBlank } from '@app/common/validation/blank-text';

/**
 * Stripe's metadata limits (docs.stripe.com/api/metadata): at most 50 keys,
 * keys up to 40 characters without square brackets, values up to 500 characters.
 */
export const STRIPE_METADATA_MAX_KEYS = 50;
export const STRIPE_METADATA_MAX_KEY_LENGTH = 40;
export const STRIPE_METADATA_MAX_VALUE_LENGTH = 500;

/** Keys the service adds to every PaymentIntent to recognise it in webhooks. */
export const PAYMENT_ID_METADATA_KEY = 'billingPaymentId';
export const TENANT_ID_METADATA_KEY = 'billingTenantId';
/** Added to the metadata of every refund the service requests, beside the payment and tenant ids. */
export const REFUND_ID_METADATA_KEY = 'billingRefundId';
const RESERVED_METADATA_KEYS = [PAYMENT_ID_METADATA_KEY, TENANT_ID_METADATA_KEY];

/** How many keys a client may send, since the service adds its own to Stripe's 50. */
export const CLIENT_METADATA_MAX_KEYS = STRIPE_METADATA_MAX_KEYS - RESERVED_METADATA_KEYS.length;

/**
 * Checks what the DTO's decorators cannot: the amount against Stripe's
 * minimum and maximum for the currency, and the metadata against Stripe's
 * limits. Returns one error per problem, by the client's field names.
 */
export function checkPaymentInput(input: { amount: unknown; currency: unknown; metadata?: unknown }): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof input.amount === 'number' && typeof input.currency === 'string') {
    const amountProblem = checkChargeAmount(input.amount, input.currency);
    if (amountProblem !== null) {
      errors.push({ field: currencyInfo(input.currency) ? 'amount' : 'currency', message: amountProblem });
    }
  }
  // Without a usable currency, the rules that hold for every currency still name a bad amount.
  const currencyUnusable = typeof input.currency !== 'string' || !currencyInfo(input.currency);
  const anyCurrencyProblem = typeof input.amount === 'number' && currencyUnusable ? checkAmountOfAnyCurrency(input.amount) : null;
  if (anyCurrencyProblem !== null) {
    errors.push({ field: 'amount', message: anyCurrencyProblem });
  }

  if (typeof input.metadata === 'object' && input.metadata !== null && !Array.isArray(input.metadata)) {
    errors.push(...checkMetadata(input.metadata as Record<string, unknown>));
  }

  return errors;
}

const BLANK_KEY_MESSAGE = 'must not have a blank key';

export function checkMetadata(metadata: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  const entries = Object.entries(metadata);
  if (entries.length > CLIENT_METADATA_MAX_KEYS) {
    errors.push({
      field: 'metadata',
      message: `must have at most ${CLIENT_METADATA_MAX_KEYS} keys (Stripe allows ${STRIPE_METADATA_MAX_KEYS} and the service adds ${RESERVED_METADATA_KEYS.length})`,
    });
  }

  for (const [key, value] of entries) {
    // A path such as `metadata.` or `metadata.\u200b` would not show the client which key is meant.
    if (isBlank(key)) {
      if (!errors.some((error) => error.field === 'metadata' && error.message === BLANK_KEY_MESSAGE)) {
        errors.push({ field: 'metadata', message: BLANK_KEY_MESSAGE });
      }
      continue;
    }

    const field = `metadata.${key}`;
    if (key.length > STRIPE_METADATA_MAX_KEY_LENGTH) {
      errors.push({ field, message: `key must be at most ${STRIPE_METADATA_MAX_KEY_LENGTH} characters long (an emoji counts as two)` });
    }
    if (/[[\]]/.test(key)) {
      errors.push({ field, message: 'key must not contain square brackets' });
    }
    if (RESERVED_METADATA_KEYS.includes(key)) {
      errors.push({ field, message: 'key is reserved for the billing service' });
    }
    if (typeof value !== 'string') {
      errors.push({ field, message: 'must be a string' });
    } else if (value.length > STRIPE_METADATA_MAX_VALUE_LENGTH) {
      errors.push({ field, message: `must be at most ${STRIPE_METADATA_MAX_VALUE_LENGTH} characters long (an emoji counts as two)` });
    } else if (value !== '' && isBlank(value)) {
      errors.push({ field, message: BLANK_MESSAGE });
    }
  }

  return errors;
}
