import { DomainError, validationFailed } from '@app/common/errors/domain-error';
import { isStripeError } from '@app/common/stripe/stripe-error.mapper';
import type { InvoiceStatus } from './invoice.entity';

const ALTERNATIVES = new Intl.ListFormat('en', { type: 'disjunction' });

/** 409 `invalid_state` for an action the invoice's status does not allow. */
export function invoiceStateConflict(action: string, status: InvoiceStatus, allowed: readonly InvoiceStatus[]): DomainError {
  return new DomainError(
    'invalid_state',
    `The invoice is ${status}; only ${ALTERNATIVES.format(allowed)} invoices can be ${action}.`,
    { extensions: { invoiceStatus: status } },
  );
}

/** Stripe's names of the customer parameters, by the field of the request body they come from. */
const CUSTOMER_FIELDS_BY_STRIPE_PARAM: Record<string, string> = {
  email: 'email',
  name: 'name',
  'tax_id_data[0][type]': 'taxId.type',
  'tax_id_data[0][value]': 'taxId.value',
  'address[line1]': 'address.line1',
  'address[line2]': 'address.line2',
  'address[city]': 'address.city',
  'address[state]': 'address.state',
  'address[postal_code]': 'address.postalCode',
  'address[country]': 'address.country',
};

/**
 * Turns Stripe's rejection of a customer's own data (a tax id in the wrong format, an email
 * Stripe does not accept) into `400 validation_failed` on the body field. Returns null for
 * every other error, which the connection's translation handles.
 */
export function customerFieldRejection(error: unknown): DomainError | null {
  if (!isStripeError(error) || error.type !== 'StripeInvalidRequestError' || error.param === undefined) {
    return null;
  }

  const field = CUSTOMER_FIELDS_BY_STRIPE_PARAM[error.param];
  if (field === undefined) {
    return null;
  }

  return validationFailed([{ field, message: error.code === 'tax_id_invalid' ? 'is not a valid tax id of this type' : 'was rejected by Stripe' }]);
}
