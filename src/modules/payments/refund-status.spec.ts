import fc from 'fast-check';
import {
  REFUND_STATUSES,
  RefundObservation,
  RefundState,
  RefundStatus,
  planRefundUpdate,
  refundableAmount,
  refundStatusOf,
  succeededRefundTotal,
} from './refund-status';

function state(overrides: Partial<RefundState> = {}): RefundState {
  return { status: 'pending', stripeRefundId: 're_1', lastStripeEventCreated: null, ...overrides };
}

function observation(overrides: Partial<RefundObservation> = {}): RefundObservation {
  return {
    stripeRefundId: 're_1',
    status: 'succeeded',
    amount: 500,
    reason: null,
    failureReason: null,
    eventCreated: 100,
    authoritative: false,
    ...overrides,
  };
}

describe('planRefundUpdate', () => {
  it('moves pending to succeeded', () => {
    expect(planRefundUpdate(state(), observation()).changes.status).toBe('succeeded');
  });

  it('moves succeeded to failed with the failure reason', () => {
    const plan = planRefundUpdate(
      state({ status: 'succeeded', lastStripeEventCreated: 100 }),
      observation({ status: 'failed', failureReason: 'expired_or_canceled_card', eventCreated: 105 }),
    );

    expect(plan.changes).toMatchObject({ status: 'failed', failureReason: 'expired_or_canceled_card' });
  });

  it('never moves failed back to succeeded', () => {
    const plan = planRefundUpdate(state({ status: 'failed', lastStripeEventCreated: 105 }), observation({ status: 'succeeded', eventCreated: 100 }));

    expect(plan.skippedBecause).toBe('backward');
  });

  it('never moves succeeded back to pending', () => {
    const plan = planRefundUpdate(state({ status: 'succeeded' }), observation({ status: 'pending', eventCreated: 200 }));

    expect(plan.changes.status).toBeUndefined();
  });

  it('asks for a re-read on a lateral move of the same second', () => {
    const plan = planRefundUpdate(
      state({ status: 'pending', lastStripeEventCreated: 100 }),
      observation({ status: 'requires_action', eventCreated: 100 }),
    );

    expect(plan.skippedBecause).toBe('same_second');
  });

  it('applies a re-read lateral move', () => {
    const plan = planRefundUpdate(
      state({ status: 'pending', lastStripeEventCreated: 100 }),
      observation({ status: 'requires_action', eventCreated: 100, authoritative: true }),
    );

    expect(plan.changes.status).toBe('requires_action');
  });

  it('links the Stripe id of an unanswered refund', () => {
    const plan = planRefundUpdate(state({ stripeRefundId: null }), observation({ stripeRefundId: 're_9' }));

    expect(plan.changes.stripeRefundId).toBe('re_9');
  });

  it('lets Stripe overrule a failure it never confirmed', () => {
    const plan = planRefundUpdate(
      state({ status: 'failed', stripeRefundId: null }),
      observation({ status: 'succeeded', stripeRefundId: 're_9' }),
    );

    expect(plan.changes.status).toBe('succeeded');
  });

  it('records the newest event time', () => {
    const plan = planRefundUpdate(state({ lastStripeEventCreated: 90 }), observation({ eventCreated: 120 }));

    expect(plan.changes.lastStripeEventCreated).toBe(120);
  });
});

describe('refundStatusOf', () => {
  it('keeps a known status', () => {
    expect(refundStatusOf('canceled')).toBe('canceled');
  });

  it('reads a missing status as pending', () => {
    expect(refundStatusOf(null)).toBe('pending');
  });
});

describe('refundableAmount', () => {
  it('subtracts succeeded and pending refunds', () => {
    expect(
      refundableAmount(1000, [
        { amount: 100, status: 'succeeded' },
        { amount: 200, status: 'pending' },
        { amount: 300, status: 'failed' },
        { amount: 50, status: 'canceled' },
      ]),
    ).toBe(700);
  });

  it('is 0 for a fully refunded payment', () => {
    expect(refundableAmount(1000, [{ amount: 1000, status: 'succeeded' }])).toBe(0);
  });
});

/**
 * A model of one payment's refunds under random interleavings. Refunds
 * requested through the API are admitted only within what is left, and each
 * refund moves through its statuses by events delivered out of order and
 * repeated.
 */
describe('refund bookkeeping under random interleavings', () => {
  type Step =
    | { kind: 'request'; amount: number }
    | { kind: 'event'; refund: number; status: RefundStatus; created: number };

  const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('request' as const), amount: fc.integer({ min: 1, max: 1200 }) }),
    fc.record({
      kind: fc.constant('event' as const),
      refund: fc.nat({ max: 9 }),
      status: fc.constantFrom(...REFUND_STATUSES),
      created: fc.integer({ min: 1, max: 20 }),
    }),
  );

  it('keeps succeeded refunds within the payment', () => {
    fc.assert(
      fc.property(fc.integer({ min: 50, max: 1000 }), fc.array(stepArbitrary, { maxLength: 60 }), (paymentAmount, steps) => {
        const refunds: (RefundState & { amount: number })[] = [];
        for (const step of steps) {
          if (step.kind === 'request') {
            // Admission mirrors the service: under the payment lock, within what is left.
            if (step.amount <= refundableAmount(paymentAmount, refunds)) {
              refunds.push({ amount: step.amount, status: 'pending', stripeRefundId: `re_${refunds.length}`, lastStripeEventCreated: null });
            }
            continue;
          }

          const refund = refunds[step.refund];
          if (!refund) {
            continue;
          }
          const plan = planRefundUpdate(refund, { ...observation(), status: step.status, eventCreated: step.created, amount: refund.amount });
          Object.assign(refund, plan.changes);

          expect(succeededRefundTotal(refunds)).toBeLessThanOrEqual(paymentAmount);
          expect(refundableAmount(paymentAmount, refunds)).toBe(
            paymentAmount - refunds.filter((r) => ['pending', 'requires_action', 'succeeded'].includes(r.status)).reduce((sum, r) => sum + r.amount, 0),
          );
        }
      }),
      { numRuns: 500 },
    );
  });
});
