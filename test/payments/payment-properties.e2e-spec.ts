import { checkChargeAmount } from '@app/common/money/currencies';
import fc from 'fast-check';
import request from 'supertest';
import type Stripe from 'stripe';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import { Connected, PAYMENTS, paymentsHelpers } from './payments-helpers';

// Each property run takes a payment, refunds and webhook round trips of about a second.
jest.setTimeout(180_000);

/**
 * Property-based tests against the real PostgreSQL, Redis and the emulator,
 * with few runs each so the suite stays within a minute or two.
 */
describe('payment properties', () => {
  let t: TestApp;
  let h: ReturnType<typeof paymentsHelpers>;

  beforeAll(async () => {
    t = await startTestApp();
    h = paymentsHelpers(t);
  });

  afterAll(async () => {
    await t.close();
  });

  describe('amount validation', () => {
    const currencies = ['usd', 'jpy', 'krw', 'kwd', 'isk', 'huf', 'idr', 'eur', 'xyz'];
    const amounts = fc.oneof(
      fc.integer({ min: -100, max: 200 }),
      fc.integer({ min: 1, max: 40_000 }),
      fc.integer({ min: 99_999_000, max: 100_001_000 }),
      fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }),
    );

    it('accepts exactly the amounts the shared currency table allows, and stores nothing else', async () => {
      const tenant = await h.connectedTenant();
      let accepted = 0;

      await fc.assert(
        fc.asyncProperty(amounts, fc.constantFrom(...currencies), async (amount, currency) => {
          const response = await h.pay(tenant.auth, { amount, currency });
          const problem = checkChargeAmount(amount, currency);

          if (problem === null) {
            expect(response.status).toBe(201);
            expect(response.body.amount).toBe(amount);
            accepted++;
          } else {
            expect(response.status).toBe(400);
            expect(response.body.errors.map((error: { field: string }) => error.field)).toContain(currency === 'xyz' ? 'currency' : 'amount');
          }
        }),
        { numRuns: 25 },
      );
      const stored = await t.http().get(PAYMENTS).query({ limit: 100 }).set(tenant.auth);

      expect(stored.body.data).toHaveLength(accepted);
    });

    it('refunds exactly the amounts within what is left', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, { amount: 5000 });
      let refunded = 0;

      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.integer({ min: -10, max: 2500 }), fc.double({ min: -10, max: 2500, noNaN: true })), async (amount) => {
          const response = await h.refund(tenant.auth, payment.body.id, { amount });

          if (!Number.isInteger(amount) || amount < 1) {
            expect(response.status).toBe(400);
          } else if (amount > 5000 - refunded) {
            expect(response.status).toBe(422);
            expect(response.body.amountRefundable).toBe(5000 - refunded);
          } else {
            expect(response.status).toBe(201);
            refunded += amount;
          }
        }),
        { numRuns: 25 },
      );

      expect((await h.getPayment(tenant.auth, payment.body.id)).body.amountRefunded).toBe(refunded);
    });
  });

  describe('refunds under random interleavings', () => {
    type Operation =
      | { kind: 'api'; amount: number | null; delayMs: number; repeatWithKey: boolean }
      | { kind: 'dashboard'; amount: number; outcome: 'succeeded' | 'failed'; delayMs: number };

    const operation = (paymentAmount: number): fc.Arbitrary<Operation> =>
      fc.oneof(
        fc.record({
          kind: fc.constant('api' as const),
          amount: fc.option(fc.integer({ min: 1, max: paymentAmount }), { freq: 4 }),
          delayMs: fc.nat({ max: 40 }),
          repeatWithKey: fc.boolean(),
        }),
        fc.record({
          kind: fc.constant('dashboard' as const),
          amount: fc.integer({ min: 1, max: paymentAmount }),
          outcome: fc.constantFrom('succeeded' as const, 'failed' as const),
          delayMs: fc.nat({ max: 40 }),
        }),
      );

    const scenario = fc
      .record({
        amount: fc.integer({ min: 1000, max: 6000 }),
        card: fc.constantFrom('pm_card_visa', 'pm_card_pendingRefund', 'pm_card_refundFail'),
      })
      .chain(({ amount, card }) => fc.record({ amount: fc.constant(amount), card: fc.constant(card), operations: fc.array(operation(amount), { minLength: 1, maxLength: 6 }) }));

    async function run(tenant: Connected, paymentId: string, paymentIntentId: string, op: Operation, index: number): Promise<string[]> {
      await new Promise((resolve) => setTimeout(resolve, op.delayMs));
      if (op.kind === 'dashboard') {
        // Stripe refuses a Dashboard refund above what the charge has left; that is part of the interleaving.
        await request(t.emulator.url)
          .post(`/_emulator/accounts/${tenant.account.id}/dashboard/refunds`)
          .send({ paymentIntent: paymentIntentId, amount: op.amount, outcome: op.outcome });

        return [];
      }

      const body = op.amount === null ? {} : { amount: op.amount };
      const key = op.repeatWithKey ? `interleaving-${index}` : undefined;
      const responses = [await h.refund(tenant.auth, paymentId, body, key)];
      if (key) {
        responses.push(await h.refund(tenant.auth, paymentId, body, key));
      }
      for (const response of responses) {
        expect([201, 422, 502]).toContain(response.status);
      }

      return responses.filter((response) => response.status === 201).map((response) => response.body.id as string);
    }

    function expectedStatus(succeededTotal: number, amount: number): string {
      if (succeededTotal === 0) {
        return 'succeeded';
      }

      return succeededTotal === amount ? 'refunded' : 'partially_refunded';
    }

    /**
     * Waits until Stripe's refunds of the PaymentIntent stopped changing and
     * every event about them was applied; returns them as Stripe has them then.
     */
    async function settle(tenant: Connected, paymentIntentId: string): Promise<Stripe.Refund[]> {
      // Longer than the emulator's 500 ms before a test card's refund turns succeeded or failed.
      await new Promise((resolve) => setTimeout(resolve, 800));
      await eventually(async () => {
        const listed = await h.stripeRefunds(tenant, paymentIntentId);

        return listed.every((refund) => refund.status !== 'pending') ? true : undefined;
      });
      await h.quiesce(tenant);

      return h.stripeRefunds(tenant, paymentIntentId);
    }

    it('never lets succeeded refunds exceed the payment, and ends equal to Stripe', async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ amount, card, operations }) => {
          const tenant = await h.connectedTenant();
          const payment = await h.pay(tenant.auth, { amount, paymentMethod: card });
          expect(payment.status).toBe(201);
          const { id: paymentId, stripePaymentIntentId } = payment.body as { id: string; stripePaymentIntentId: string };

          // Sample the stored state while refunds and their webhooks race.
          let sampling = true;
          const violations: string[] = [];
          const sampler = (async () => {
            while (sampling) {
              const rows: { amount_refunded: string; succeeded: string | null }[] = await h.database().query(
                `SELECT p.amount_refunded, (SELECT sum(r.amount) FROM refunds r WHERE r.payment_id = p.id AND r.status = 'succeeded') AS succeeded
                   FROM payments p WHERE p.id = $1`,
                [paymentId],
              );
              const succeeded = Number(rows[0].succeeded ?? 0);
              if (succeeded > amount || Number(rows[0].amount_refunded) > amount) {
                violations.push(`succeeded ${succeeded}, amountRefunded ${rows[0].amount_refunded} of ${amount}`);
              }
              await new Promise((resolve) => setTimeout(resolve, 15));
            }
          })();

          const created = (await Promise.all(operations.map((op, index) => run(tenant, paymentId, stripePaymentIntentId, op, index)))).flat();
          const stripeRefunds = await settle(tenant, stripePaymentIntentId);
          sampling = false;
          await sampler;

          const stored = (await h.getPayment(tenant.auth, paymentId)).body;
          const refunds = (await t.http().get(`${PAYMENTS}/${paymentId}/refunds`).query({ limit: 100 }).set(tenant.auth)).body.data as {
            id: string;
            amount: number;
            status: string;
            stripeRefundId: string | null;
          }[];
          const succeededTotal = refunds.filter((refund) => refund.status === 'succeeded').reduce((sum, refund) => sum + refund.amount, 0);
          const stripeSucceeded = stripeRefunds.filter((refund) => refund.status === 'succeeded').reduce((sum, refund) => sum + refund.amount, 0);
          const known = refunds.filter((refund) => refund.stripeRefundId !== null);

          expect(violations).toEqual([]);
          expect(succeededTotal).toBeLessThanOrEqual(amount);
          expect(stored.amountRefunded).toBe(succeededTotal);
          expect(stored.amountRefunded).toBe(stripeSucceeded);
          expect(stored.status).toBe(expectedStatus(succeededTotal, amount));
          expect(new Map(known.map((refund) => [refund.stripeRefundId, refund.status]))).toEqual(
            new Map(stripeRefunds.map((refund) => [refund.id, refund.status])),
          );
          expect(created.every((id) => known.some((refund) => refund.id === id))).toBe(true);
        }),
        { numRuns: 15 },
      );
    });
  });
});
