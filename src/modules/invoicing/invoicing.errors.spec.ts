import { invoiceStateConflict } from './invoicing.errors';

describe('invoiceStateConflict', () => {
  it('joins the allowed statuses with or', () => {
    const error = invoiceStateConflict('voided', 'paid', ['issuing', 'open', 'uncollectible']);

    expect(error.message).toBe('The invoice is paid; only issuing, open, or uncollectible invoices can be voided.');
  });

  it('names a single allowed status alone', () => {
    const error = invoiceStateConflict('finalized', 'open', ['draft']);

    expect(error.message).toBe('The invoice is open; only draft invoices can be finalized.');
  });

  it('names the invoice status apart from the HTTP status', () => {
    const error = invoiceStateConflict('finalized', 'open', ['draft']);

    expect(error.extensions).toEqual({ invoiceStatus: 'open' });
  });
});
