import { isFinalStatus, isStripeInvoiceStatus, nextStatus } from './invoice-status';

describe('nextStatus', () => {
  it('opens an issuing invoice that Stripe finalized', () => {
    expect(nextStatus('issuing', 'open')).toBe('open');
  });

  it('pays an issuing invoice whose paid event came before its finalized one', () => {
    expect(nextStatus('issuing', 'paid')).toBe('paid');
  });

  it('keeps a paid invoice paid when the finalized event arrives late', () => {
    expect(nextStatus('paid', 'open')).toBeNull();
  });

  it('pays an uncollectible invoice', () => {
    expect(nextStatus('uncollectible', 'paid')).toBe('paid');
  });

  it('voids an uncollectible invoice', () => {
    expect(nextStatus('uncollectible', 'void')).toBe('void');
  });

  it('keeps an uncollectible invoice when an older open event arrives', () => {
    expect(nextStatus('uncollectible', 'open')).toBeNull();
  });

  it('marks an open invoice uncollectible', () => {
    expect(nextStatus('open', 'uncollectible')).toBe('uncollectible');
  });

  it('never turns a void invoice paid', () => {
    expect(nextStatus('void', 'paid')).toBeNull();
  });

  it('never turns a paid invoice void', () => {
    expect(nextStatus('paid', 'void')).toBeNull();
  });

  it('ignores Stripe drafts', () => {
    expect(nextStatus('issuing', 'draft')).toBeNull();
  });

  it('changes nothing for the same status', () => {
    expect(nextStatus('open', 'open')).toBeNull();
  });
});

describe('isFinalStatus', () => {
  it.each([
    ['paid', true],
    ['void', true],
    ['open', false],
    ['uncollectible', false],
  ] as const)('%s is final: %s', (status, final) => {
    expect(isFinalStatus(status)).toBe(final);
  });
});

describe('isStripeInvoiceStatus', () => {
  it('accepts open', () => {
    expect(isStripeInvoiceStatus('open')).toBe(true);
  });

  it('rejects null', () => {
    expect(isStripeInvoiceStatus(null)).toBe(false);
  });

  it('rejects our own issuing status', () => {
    expect(isStripeInvoiceStatus('issuing')).toBe(false);
  });
});
