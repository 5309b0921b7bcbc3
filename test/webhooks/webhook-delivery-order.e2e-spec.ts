import { QUEUE_WEBHOOK_EVENTS } from '@app/common/queues/queue-names';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import request from 'supertest';
import Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { createOperatorAuth, createTenant } from '../support/factories';
import { EmulatorAccount, connectStripe } from '../support/stripe-account';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import { InboxRow, finishedRow, randomSecret } from './webhook-helpers';

/**
 * Deliveries as Stripe makes them, through the emulator's delivery tricks:
 * out of order, duplicated, concurrent, delayed, and signed twice during a
 * secret roll. The tenant's endpoint is the one the service registered, so the
 * emulator signs with the secret the service stored.
 */
describe('Stripe deliveries out of order, twice and during a secret roll', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let queue: Queue;
  let operator: { Authorization: string };

  beforeAll(async () => {
    t = await startTestApp();
    dataSource = t.app.get(DataSource);
    queue = t.app.get<Queue>(getQueueToken(QUEUE_WEBHOOK_EVENTS));
    operator = await createOperatorAuth(t);
  });

  afterAll(async () => {
    await t.close();
  });

  async function connectedTenant(): Promise<{ tenantId: string; auth: { Authorization: string }; account: EmulatorAccount; stripe: Stripe }> {
    const tenant = await createTenant(t);
    const account = await connectStripe(t, tenant.auth);
    const base = new URL(t.emulator.url);
    const stripe = new Stripe(account.test.secretKey, { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 });

    return { tenantId: tenant.tenantId, auth: tenant.auth, account, stripe };
  }

  function emulator(): request.Agent {
    return request.agent(t.emulator.url);
  }

  async function emit(account: string, delivery?: object): Promise<string> {
    const response = await emulator()
      .post('/_emulator/events')
      .send({ account, type: 'payment_intent.canceled', object: { id: 'pi_notours', object: 'payment_intent', metadata: {} }, delivery })
      .expect(201);

    return response.body.id as string;
  }

  async function rowsOf(tenantId: string): Promise<InboxRow[]> {
    return dataSource.query(`SELECT * FROM webhook_events WHERE tenant_id = $1 ORDER BY received_at`, [tenantId]);
  }

  it('settles a payment whose events arrive in reverse order', async () => {
    const tenant = await connectedTenant();
    await emulator().post('/_emulator/deliveries/hold').send({ account: tenant.account.id }).expect(201);
    const pending = await t.http().post('/api/v1/payments').set(tenant.auth).send({ amount: 3100, currency: 'usd', paymentMethod: 'pm_card_authenticationRequired' }).expect(201);
    await emulator().post(`/_emulator/payment_intents/${pending.body.stripePaymentIntentId}/authenticate`).send({ outcome: 'succeeded' }).expect(201);

    const released = await emulator().post('/_emulator/deliveries/release').send({ account: tenant.account.id, order: 'reverse' }).expect(201);
    const rows = await eventually(async () => {
      const stored = await rowsOf(tenant.tenantId);

      return stored.length === released.body.data.length && stored.every((row) => ['processed', 'ignored'].includes(row.status)) ? stored : undefined;
    });
    const payment = await t.http().get(`/api/v1/payments/${pending.body.id}`).set(tenant.auth).expect(200);

    const releasedTypes = released.body.data.map((delivery: { type: string }) => delivery.type) as string[];
    expect([...releasedTypes].sort()).toEqual(['charge.succeeded', 'payment_intent.requires_action', 'payment_intent.succeeded']);
    expect(releasedTypes.indexOf('payment_intent.requires_action')).toBeGreaterThan(releasedTypes.indexOf('payment_intent.succeeded'));
    expect(rows.map((row) => row.type)).toEqual(releasedTypes);
    expect(payment.body.status).toBe('succeeded');
    expect(payment.body.receiptUrl).toEqual(expect.any(String));
  });

  it('stores five concurrent deliveries of one event once', async () => {
    const tenant = await connectedTenant();

    const stripeEventId = await emit(tenant.account.id, { copies: 5, concurrent: true });
    const row = await finishedRow(dataSource, tenant.tenantId, stripeEventId);
    const deliveries = await eventually(async () => {
      const listed = await emulator().get('/_emulator/deliveries').query({ account: tenant.account.id, eventId: stripeEventId }).expect(200);
      const data = listed.body.data as { status: string }[];

      return data.length === 5 && data.every((delivery) => delivery.status === 'succeeded') ? data : undefined;
    });

    expect(deliveries).toHaveLength(5);
    expect(await rowsOf(tenant.tenantId)).toHaveLength(1);
    expect(row.attempts).toBe(1);
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
    expect(jobs.filter((job) => job?.data?.webhookEventId === row.id)).toHaveLength(1);
  });

  it('stores a duplicate delivered after the first was processed once', async () => {
    const tenant = await connectedTenant();

    const stripeEventId = await emit(tenant.account.id, { copies: 2 });
    await eventually(async () => {
      const listed = await emulator().get('/_emulator/deliveries').query({ account: tenant.account.id, eventId: stripeEventId }).expect(200);

      return (listed.body.data as { status: string }[]).every((delivery) => delivery.status === 'succeeded') ? true : undefined;
    });
    const row = await finishedRow(dataSource, tenant.tenantId, stripeEventId);

    expect(await rowsOf(tenant.tenantId)).toHaveLength(1);
    expect(row.attempts).toBe(1);
  });

  it('stores a delayed delivery when it arrives', async () => {
    const tenant = await connectedTenant();

    const stripeEventId = await emit(tenant.account.id, { delayMs: 500 });
    const early = await rowsOf(tenant.tenantId);
    const row = await finishedRow(dataSource, tenant.tenantId, stripeEventId);

    expect(early).toHaveLength(0);
    expect(row.status).toBe('ignored');
  });

  describe('secret roll', () => {
    async function endpointIdOf(stripe: Stripe): Promise<string> {
      const endpoints = await stripe.webhookEndpoints.list();

      return endpoints.data[0].id;
    }

    it('verifies rolled deliveries by the old secret', async () => {
      const tenant = await connectedTenant();
      await emulator().post(`/_emulator/webhook_endpoints/${await endpointIdOf(tenant.stripe)}/roll_secret`).send({}).expect(201);

      const stripeEventId = await emit(tenant.account.id);
      const row = await finishedRow(dataSource, tenant.tenantId, stripeEventId);

      expect(row.verified_by).toBe('endpoint');
    });

    it('verifies rolled deliveries by the new secret', async () => {
      const tenant = await connectedTenant();
      const rolled = await emulator().post(`/_emulator/webhook_endpoints/${await endpointIdOf(tenant.stripe)}/roll_secret`).send({}).expect(201);
      await t.http().put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`).set(operator).send({ secret: rolled.body.secret }).expect(204);

      const stripeEventId = await emit(tenant.account.id);
      const row = await finishedRow(dataSource, tenant.tenantId, stripeEventId);

      expect(row.verified_by).toBe('endpoint');
    });

    it('verifies by the registered secret after a mistyped one', async () => {
      const tenant = await connectedTenant();
      await t.http().put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`).set(operator).send({ secret: randomSecret() }).expect(204);

      const stripeEventId = await emit(tenant.account.id);
      const row = await finishedRow(dataSource, tenant.tenantId, stripeEventId);

      expect(row.verified_by).toBe('endpoint');
    });

    it('rejects deliveries once neither secret is the stored one', async () => {
      const tenant = await connectedTenant();
      await t.http().put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`).set(operator).send({ secret: randomSecret() }).expect(204);
      // As 24 hours later, when the registered secret that the PUT replaced stops verifying.
      await dataSource.query(`UPDATE stripe_connections SET retired_endpoint_secret_kept_until = now() - interval '1 second' WHERE tenant_id = $1`, [
        tenant.tenantId,
      ]);
      await emulator().post(`/_emulator/webhook_endpoints/${await endpointIdOf(tenant.stripe)}/roll_secret`).send({}).expect(201);

      const stripeEventId = await emit(tenant.account.id);
      const delivery = await eventually(async () => {
        const listed = await emulator().get('/_emulator/deliveries').query({ account: tenant.account.id, eventId: stripeEventId }).expect(200);
        const [first] = listed.body.data as { attempts: number; lastResponseStatus: number | null }[];

        return first && first.lastResponseStatus !== null ? first : undefined;
      });

      expect(delivery.lastResponseStatus).toBe(400);
    });
  });
});
