/**
 * Metadata keys the service puts on the Stripe objects of this context, so that webhook
 * handlers and the issuing job recognise the objects as the service's own.
 */
export const INVOICE_ID_METADATA_KEY = 'billingInvoiceId';
export const TENANT_ID_METADATA_KEY = 'billingTenantId';
export const CUSTOMER_ID_METADATA_KEY = 'billingCustomerId';
/** On an invoice item: the position (from 1) of the invoice line it bills. */
export const LINE_POSITION_METADATA_KEY = 'billingLinePosition';
