import { IdempotencyService, requestBodyHash } from '@app/common/idempotency';
import { randomUUID } from 'node:crypto';
import { createTenant } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import { Connected, PAYMENTS, paymentsHelpers } from './payments-helpers';

describe('Idempotency-Key', () => {
  let t: TestApp;
  let h: ReturnType<typeof paymentsHelpers>;

  beforeAll(async () => {
    // A short Stripe timeout keeps the request held by an injected timeout fault brief.
    t = await startTestApp({ STRIPE_TIMEOUT_MS: '1500' });
    h = paymentsHelpers(t);
  });

  afterAll(async () => {
    await t.close();
  });

  function key(): string {
    return `key-${randomUUID()}`;
  }

  async function storedKey(tenantId: string, idempotencyKey: string): Promise<{ status: string; created_at: Date; expires_at: Date } | undefined> {
    const rows = await h.database().query(`SELECT status, created_at, expires_at FROM idempotency_keys WHERE tenant_id = $1 AND key = $2`, [
      tenantId,
      idempotencyKey,
    ]);

    return rows[0];
  }

  async function paymentCount(tenant: Connected): Promise<number> {
    return (await t.http().get(PAYMENTS).set(tenant.auth)).body.data.length;
  }

  describe('POST /api/v1/payments', () => {
    it('replays the first response for the same key and body', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();

      const first = await h.pay(tenant.auth, { amount: 4100 }, idempotencyKey);
      const second = await h.pay(tenant.auth, { amount: 4100 }, idempotencyKey);

      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      expect(second.headers['idempotent-replayed']).toBe('true');
    });

    it('commits the key in the transaction of the processing payment', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();

      const response = await h.pay(tenant.auth, { amount: 4100 }, idempotencyKey);

      expect(response.status).toBe(201);
      // now() is the start time of the current transaction, so equal times mean one transaction.
      const rows: { same_transaction: boolean; status: string }[] = await h.database().query(
        `SELECT k.created_at = p.created_at AS same_transaction, k.status
           FROM idempotency_keys k JOIN payments p ON p.tenant_id = k.tenant_id AND p.idempotency_key_id = k.id
          WHERE k.tenant_id = $1 AND k.key = $2`,
        [tenant.tenantId, idempotencyKey],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].same_transaction).toBe(true);
      expect(rows[0].status).toBe('done');
    });

    it('creates one PaymentIntent for repeated requests with one key', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();

      for (let attempt = 0; attempt < 3; attempt++) {
        await h.pay(tenant.auth, { amount: 4100 }, idempotencyKey);
      }

      expect(await h.stripePaymentIntents(tenant)).toHaveLength(1);
      expect(await paymentCount(tenant)).toBe(1);
    });

    it('compares bodies as canonical JSON', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();

      const first = await t.http().post(PAYMENTS).set(tenant.auth).set('Idempotency-Key', idempotencyKey).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa', metadata: { a: '1', b: '2' } });
      const second = await t
        .http()
        .post(PAYMENTS)
        .set(tenant.auth)
        .set('Idempotency-Key', idempotencyKey)
        .set('Content-Type', 'application/json')
        .send('{ "metadata": { "b": "2", "a": "1" }, "paymentMethod": "pm_card_visa", "currency": "usd", "amount": 2000 }');

      expect(second.body.id).toBe(first.body.id);
    });

    it('answers idempotency_key_reused for another body', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();
      await h.pay(tenant.auth, { amount: 2000 }, idempotencyKey);

      const response = await h.pay(tenant.auth, { amount: 2001 }, idempotencyKey);

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('idempotency_key_reused');
      expect(await paymentCount(tenant)).toBe(1);
    });

    it('answers 400 before idempotency_key_reused for an invalid body', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();
      await h.pay(tenant.auth, { amount: 2000 }, idempotencyKey);

      const response = await h.pay(tenant.auth, { amount: 'lots' }, idempotencyKey);

      expect(response.status).toBe(400);
    });

    it('replays a declined card as the same 402', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();

      const first = await h.pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclinedInsufficientFunds' }, idempotencyKey);
      const second = await h.pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclinedInsufficientFunds' }, idempotencyKey);

      expect(first.status).toBe(402);
      expect(second.status).toBe(402);
      expect(second.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(second.body).toEqual(first.body);
      expect(await h.stripePaymentIntents(tenant)).toHaveLength(1);
    });

    it('runs again after a 400', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();

      const invalid = await h.pay(tenant.auth, { amount: 10 }, idempotencyKey);
      const valid = await h.pay(tenant.auth, { amount: 2000 }, idempotencyKey);

      expect(invalid.status).toBe(400);
      expect(valid.status).toBe(201);
    });

    it('runs again after stripe_not_connected', async () => {
      const tenant = await createTenant(t);
      const idempotencyKey = key();

      const refused = await h.pay(tenant.auth, {}, idempotencyKey);
      await connectStripe(t, tenant.auth);
      const paid = await h.pay(tenant.auth, {}, idempotencyKey);

      expect(refused.body.code).toBe('stripe_not_connected');
      expect(paid.status).toBe(201);
    });

    it('scopes keys to the tenant', async () => {
      const first = await h.connectedTenant();
      const second = await h.connectedTenant();
      const idempotencyKey = key();

      const a = await h.pay(first.auth, {}, idempotencyKey);
      const b = await h.pay(second.auth, {}, idempotencyKey);

      expect(b.status).toBe(201);
      expect(b.body.id).not.toBe(a.body.id);
    });

    it('scopes keys to the path', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();
      const payment = await h.pay(tenant.auth, {}, idempotencyKey);

      const refund = await h.refund(tenant.auth, payment.body.id, { amount: 100 }, idempotencyKey);

      expect(refund.status).toBe(201);
    });

    it('answers idempotency_key_in_use while the first request runs', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();
      await h.injectFaults('timeout', 1, tenant);

      const first = h.pay(tenant.auth, {}, idempotencyKey);
      await eventually(async () => ((await storedKey(tenant.tenantId, idempotencyKey))?.status === 'running' ? true : undefined));
      const second = await h.pay(tenant.auth, {}, idempotencyKey);

      expect(second.status).toBe(409);
      expect(second.body.code).toBe('idempotency_key_in_use');
      expect(second.headers['retry-after']).toBe('2');
      expect(second.body.detail).toMatch(/the key is free again within (119 seconds|2 minutes)\.$/);
      expect((await first).status).toBe(201);
    });

    it('makes one Stripe call for ten concurrent requests with one key', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();
      const before = h.stripeCallCount(tenant);

      const responses = await Promise.all(Array.from({ length: 10 }, () => h.pay(tenant.auth, { amount: 3300 }, idempotencyKey)));
      const created = responses.filter((response) => response.status === 201);
      const others = responses.filter((response) => response.status !== 201);

      expect(new Set(created.map((response) => response.body.id)).size).toBe(1);
      expect(others.every((response) => response.status === 409 && response.body.code === 'idempotency_key_in_use')).toBe(true);
      expect(h.stripeCallsSince(tenant, before).filter((call) => call.method === 'POST' && call.path === '/v1/payment_intents')).toHaveLength(1);
      expect(await paymentCount(tenant)).toBe(1);
    });

    it('keeps a response for at least 24 hours', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();

      await h.pay(tenant.auth, {}, idempotencyKey);
      const stored = await storedKey(tenant.tenantId, idempotencyKey);

      expect(stored?.status).toBe('done');
      expect(stored!.expires_at.getTime() - stored!.created_at.getTime()).toBeGreaterThanOrEqual(24 * 60 * 60 * 1000);
    });

    it('runs a request again once its key expired', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();
      const first = await h.pay(tenant.auth, {}, idempotencyKey);
      await h.database().query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1`, [tenant.tenantId]);

      const second = await h.pay(tenant.auth, {}, idempotencyKey);

      expect(second.status).toBe(201);
      expect(second.body.id).not.toBe(first.body.id);
    });

    it.each([
      ['an empty key', '', 'must be 1 to 255 characters long'],
      ['a key of 256 characters', 'k'.repeat(256), 'must be 1 to 255 characters long'],
      ['a key with a non-ASCII character', 'clé', 'must contain only printable ASCII characters'],
    ])('rejects %s', async (_case, idempotencyKey, message) => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, {}, idempotencyKey);

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'Idempotency-Key', message }]);
      expect(await paymentCount(tenant)).toBe(0);
    });

    it('rejects the header sent twice', async () => {
      const tenant = await h.connectedTenant();

      const response = await t
        .http()
        .post(PAYMENTS)
        .set(tenant.auth)
        // superagent sends an array as one header line per value, though its typing takes a string here.
        .set('Idempotency-Key', ['a1', 'a2'] as unknown as string)
        .send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_visa' });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'Idempotency-Key', message: 'must appear only once' }]);
      expect(await paymentCount(tenant)).toBe(0);
    });

    it('accepts a key of 255 printable characters', async () => {
      const tenant = await h.connectedTenant();

      const response = await h.pay(tenant.auth, {}, `${' !"#$%&'.repeat(31)}abcdefg`);

      expect(response.status).toBe(201);
    });
  });

  describe('POST /api/v1/payments/:id/refunds', () => {
    it('replays a refund for the same key and body', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      const idempotencyKey = key();

      const first = await h.refund(tenant.auth, payment.body.id, { amount: 600 }, idempotencyKey);
      const second = await h.refund(tenant.auth, payment.body.id, { amount: 600 }, idempotencyKey);

      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      expect(await h.stripeRefunds(tenant, payment.body.stripePaymentIntentId)).toHaveLength(1);
    });

    it('replays refund_exceeds_payment', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      const idempotencyKey = key();

      const first = await h.refund(tenant.auth, payment.body.id, { amount: 5000 }, idempotencyKey);
      const second = await h.refund(tenant.auth, payment.body.id, { amount: 5000 }, idempotencyKey);

      expect(first.body.code).toBe('refund_exceeds_payment');
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.body).toEqual(first.body);
    });

    it('replays invalid_state', async () => {
      const tenant = await h.connectedTenant();
      const declined = await h.pay(tenant.auth, { paymentMethod: 'pm_card_chargeDeclined' });
      const idempotencyKey = key();

      await h.refund(tenant.auth, declined.body.paymentId, {}, idempotencyKey);
      const second = await h.refund(tenant.auth, declined.body.paymentId, {}, idempotencyKey);

      expect(second.status).toBe(409);
      expect(second.headers['idempotent-replayed']).toBe('true');
    });

    it('answers idempotency_key_reused for another amount', async () => {
      const tenant = await h.connectedTenant();
      const payment = await h.pay(tenant.auth, {});
      const idempotencyKey = key();
      await h.refund(tenant.auth, payment.body.id, { amount: 600 }, idempotencyKey);

      const response = await h.refund(tenant.auth, payment.body.id, { amount: 700 }, idempotencyKey);

      expect(response.body.code).toBe('idempotency_key_reused');
    });

    it('runs a request that got 404 again', async () => {
      const tenant = await h.connectedTenant();
      const idempotencyKey = key();
      const missingPaymentId = randomUUID();

      await h.refund(tenant.auth, missingPaymentId, {}, idempotencyKey);
      const second = await h.refund(tenant.auth, missingPaymentId, {}, idempotencyKey);

      expect(second.status).toBe(404);
      expect(second.headers['idempotent-replayed']).toBeUndefined();
    });
  });

  describe('OpenAPI', () => {
    it.each([
      ['/api/v1/payments', 'post'],
      ['/api/v1/payments/{id}/refunds', 'post'],
    ])('documents the header on %s', async (path, method) => {
      const document = await t.http().get('/api/docs-json').expect(200);
      const parameters = document.body.paths[path][method].parameters as { name: string; in: string }[];

      expect(parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false }));
    });
  });

  describe('IdempotencyService', () => {
    function scope(tenantId: string) {
      return { tenantId, method: 'POST', path: `/test/${randomUUID()}`, key: key() };
    }

    it('lets exactly one of twenty concurrent claims run', async () => {
      const tenant = await createTenant(t);
      const service = t.app.get(IdempotencyService);
      const target = scope(tenant.tenantId);

      const claims = await Promise.all(Array.from({ length: 20 }, () => service.claim(target, requestBodyHash({ n: 1 }))));

      expect(claims.filter((claim) => claim.kind === 'claimed')).toHaveLength(1);
      expect(claims.filter((claim) => claim.kind === 'in_use')).toHaveLength(19);
    });

    it('keeps the id on a same-body takeover', async () => {
      const tenant = await createTenant(t);
      const service = t.app.get(IdempotencyService);
      const target = scope(tenant.tenantId);
      const first = await service.claim(target, requestBodyHash({ n: 1 }));
      if (first.kind !== 'claimed') {
        throw new Error(`expected a claim, got ${first.kind}`);
      }

      await service.release(first);
      const second = await service.claim(target, requestBodyHash({ n: 1 }));

      expect(second).toMatchObject({ kind: 'claimed', key: { id: first.key.id, attempt: 2, recovered: true } });
    });

    it('gives a new id to another body after a release', async () => {
      const tenant = await createTenant(t);
      const service = t.app.get(IdempotencyService);
      const target = scope(tenant.tenantId);
      const first = await service.claim(target, requestBodyHash({ n: 1 }));
      if (first.kind !== 'claimed') {
        throw new Error(`expected a claim, got ${first.kind}`);
      }

      await service.release(first);
      const second = await service.claim(target, requestBodyHash({ n: 2 }));

      if (second.kind !== 'claimed') {
        throw new Error(`expected a claim, got ${second.kind}`);
      }
      expect(second.key.id).not.toBe(first.key.id);
    });

    it('takes over a key whose lease ran out', async () => {
      const tenant = await createTenant(t);
      const service = t.app.get(IdempotencyService);
      const target = scope(tenant.tenantId);
      await service.claim(target, requestBodyHash({ n: 1 }), 0.001);
      await new Promise((resolve) => setTimeout(resolve, 20));

      const second = await service.claim(target, requestBodyHash({ n: 1 }));

      expect(second).toMatchObject({ kind: 'claimed', key: { recovered: true } });
    });

    it('ignores the completion of a request whose key was taken over', async () => {
      const tenant = await createTenant(t);
      const service = t.app.get(IdempotencyService);
      const target = scope(tenant.tenantId);
      const first = await service.claim(target, requestBodyHash({ n: 1 }), 0.001);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = await service.claim(target, requestBodyHash({ n: 1 }));
      if (first.kind !== 'claimed' || second.kind !== 'claimed') {
        throw new Error('expected two claims');
      }

      await service.complete(first, 201, { from: 'first' });
      await service.complete(second, 201, { from: 'second' });
      const replay = await service.claim(target, requestBodyHash({ n: 1 }));

      expect(replay).toEqual({ kind: 'replay', status: 201, body: { from: 'second' } });
    });

    it('purges expired keys', async () => {
      const tenant = await createTenant(t);
      const service = t.app.get(IdempotencyService);
      const target = scope(tenant.tenantId);
      await service.claim(target, requestBodyHash({}));
      await h.database().query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE tenant_id = $1`, [tenant.tenantId]);

      await service.purgeExpired(10_000);
      const rows = await h.database().query(`SELECT 1 FROM idempotency_keys WHERE tenant_id = $1`, [tenant.tenantId]);

      expect(rows).toEqual([]);
    });
  });
});
