import { classifyStatusMove, derivePaymentStatus, intentStatusOf, paymentStatusForIntent, paymentStatusRank } from './payment-status';

describe('paymentStatusRank', () => {
  it('ranks processing and requires_action alike', () => {
    expect(paymentStatusRank('processing')).toBe(paymentStatusRank('requires_action'));
  });

  it('ranks failed above requires_action', () => {
    expect(paymentStatusRank('failed')).toBeGreaterThan(paymentStatusRank('requires_action'));
  });

  it('ranks succeeded above failed', () => {
    expect(paymentStatusRank('succeeded')).toBeGreaterThan(paymentStatusRank('failed'));
  });

  it('ranks refunded with succeeded', () => {
    expect(paymentStatusRank('refunded')).toBe(paymentStatusRank('succeeded'));
  });
});

describe('classifyStatusMove', () => {
  it.each([
    ['processing', 'succeeded', 'forward'],
    ['requires_action', 'failed', 'forward'],
    ['failed', 'succeeded', 'forward'],
    ['succeeded', 'failed', 'backward'],
    ['succeeded', 'processing', 'backward'],
    ['failed', 'requires_action', 'backward'],
    ['partially_refunded', 'failed', 'backward'],
    ['processing', 'requires_action', 'lateral'],
    ['requires_action', 'processing', 'lateral'],
    ['succeeded', 'succeeded', 'same'],
    ['refunded', 'succeeded', 'same'],
  ] as const)('%s then %s is %s', (from, observed, expected) => {
    expect(classifyStatusMove(from, observed)).toBe(expected);
  });
});

describe('paymentStatusForIntent', () => {
  it.each([
    ['succeeded', 'succeeded'],
    ['requires_action', 'requires_action'],
    ['processing', 'processing'],
    ['requires_payment_method', 'failed'],
    ['canceled', 'failed'],
    ['requires_confirmation', 'processing'],
    ['requires_capture', 'processing'],
  ] as const)('maps intent status %s to %s', (intentStatus, expected) => {
    expect(paymentStatusForIntent(intentStatus)).toBe(expected);
  });
});

describe('derivePaymentStatus', () => {
  it('keeps succeeded without refunds', () => {
    expect(derivePaymentStatus('succeeded', 1000, 0)).toBe('succeeded');
  });

  it('derives partially_refunded from part of the amount', () => {
    expect(derivePaymentStatus('succeeded', 1000, 400)).toBe('partially_refunded');
  });

  it('derives refunded from the whole amount', () => {
    expect(derivePaymentStatus('succeeded', 1000, 1000)).toBe('refunded');
  });

  it('moves back to succeeded when a refund is reversed', () => {
    expect(derivePaymentStatus('succeeded', 1000, 0)).toBe('succeeded');
  });

  it('ignores refunds on a payment that did not succeed', () => {
    expect(derivePaymentStatus('failed', 1000, 500)).toBe('failed');
  });
});

describe('intentStatusOf', () => {
  it('reads partially_refunded as succeeded', () => {
    expect(intentStatusOf('partially_refunded')).toBe('succeeded');
  });

  it('keeps requires_action', () => {
    expect(intentStatusOf('requires_action')).toBe('requires_action');
  });
});
