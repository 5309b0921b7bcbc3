import { signStripePayload } from '@app/common/stripe/webhook-signature';
import request from 'supertest';
import Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { HANDLED_STRIPE_EVENT_TYPES } from '../../src/modules/stripe-connection/stripe-webhook-events';
import { createOperatorAuth, createTenant } from '../support/factories';
import { EmulatorAccount, connectStripe, createEmulatorAccount } from '../support/stripe-account';
import { TestApp, startTestApp } from '../support/test-app';
import { deliver, eventIdOf, finishedRow, nowSeconds, randomSecret, stripeEvent } from './webhook-helpers';

/** Registration of each tenant's own webhook endpoint in its Stripe account, and its fallback to manual. */
describe('Webhook endpoint registration', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let operator: { Authorization: string };

  beforeAll(async () => {
    t = await startTestApp();
    dataSource = t.app.get(DataSource);
    operator = await createOperatorAuth(t);
  });

  afterAll(async () => {
    await t.close();
  });

  function stripeClient(secretKey: string): Stripe {
    const base = new URL(t.emulator.url);

    return new Stripe(secretKey, { host: base.hostname, port: Number(base.port), protocol: 'http', maxNetworkRetries: 0 });
  }

  async function rejectLocalUrls(reject: boolean): Promise<void> {
    await request(t.emulator.url).post('/_emulator/settings').send({ rejectLocalEndpointUrls: reject }).expect(201);
  }

  async function billing(auth: { Authorization: string }): Promise<{ webhook: { url: string; registration: string | null; signingSecret: string } }> {
    return (await t.http().get('/api/v1/settings/billing').set(auth).expect(200)).body;
  }

  async function rotateToNewKey(auth: { Authorization: string }, account: EmulatorAccount): Promise<string> {
    const keys = await request(t.emulator.url).post(`/_emulator/accounts/${account.id}/keys`).send({ mode: 'test' }).expect(201);
    await t.http().put('/api/v1/settings/billing/stripe/keys').set(auth).send({ publishableKey: keys.body.publishableKey, secretKey: keys.body.secretKey }).expect(200);

    return keys.body.secretKey as string;
  }

  it('registers with pinned version and handled types', async () => {
    const tenant = await createTenant(t);
    const account = await connectStripe(t, tenant.auth);

    const endpoints = await stripeClient(account.test.secretKey).webhookEndpoints.list();
    const settings = await billing(tenant.auth);

    expect(endpoints.data).toHaveLength(1);
    expect(endpoints.data[0].url).toBe(settings.webhook.url);
    expect(endpoints.data[0].api_version).toBe(Stripe.API_VERSION);
    expect([...endpoints.data[0].enabled_events].sort()).toEqual([...HANDLED_STRIPE_EVENT_TYPES].sort());
    expect(settings.webhook.registration).toBe('automatic');
    expect(settings.webhook.signingSecret).toBe('endpoint');
  });

  describe('when Stripe refuses the URL', () => {
    beforeEach(async () => {
      await rejectLocalUrls(true);
    });

    afterEach(async () => {
      await rejectLocalUrls(false);
    });

    it('falls back to manual registration', async () => {
      const tenant = await createTenant(t);
      const account = await connectStripe(t, tenant.auth);

      const settings = await billing(tenant.auth);
      const endpoints = await stripeClient(account.test.secretKey).webhookEndpoints.list();

      expect(settings.webhook.registration).toBe('manual');
      expect(settings.webhook.signingSecret).toBe('platform');
      expect(endpoints.data).toHaveLength(0);
    });

    it('records the refusal in the audit log', async () => {
      const tenant = await createTenant(t);
      await connectStripe(t, tenant.auth);

      const audit = await t.http().get('/api/v1/audit-log').set(tenant.auth).expect(200);
      const registered = audit.body.data.find((entry: { action: string }) => entry.action === 'stripe.webhook_registered');

      expect(registered.details).toMatchObject({ registration: 'manual', reason: 'request_rejected' });
    });

    it('verifies deliveries with the secret an operator set for the pasted endpoint', async () => {
      const tenant = await createTenant(t);
      await connectStripe(t, tenant.auth);
      const secret = randomSecret();

      await t.http().put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`).set(operator).send({ secret }).expect(204);
      const settings = await billing(tenant.auth);
      const body = stripeEvent();
      await deliver(t.url, new URL(settings.webhook.url).pathname, body, signStripePayload(secret, body, nowSeconds())).expect(200);
      const row = await finishedRow(dataSource, tenant.tenantId, eventIdOf(body));

      expect(settings.webhook.registration).toBe('manual');
      expect(settings.webhook.signingSecret).toBe('endpoint');
      expect(row.verified_by).toBe('endpoint');
    });
  });

  describe('on key rotation', () => {
    it('keeps an endpoint that still exists', async () => {
      const tenant = await createTenant(t);
      const account = await connectStripe(t, tenant.auth);
      const [before] = (await stripeClient(account.test.secretKey).webhookEndpoints.list()).data;

      const newKey = await rotateToNewKey(tenant.auth, account);
      const after = await stripeClient(newKey).webhookEndpoints.list();

      expect(after.data.map((endpoint) => endpoint.id)).toEqual([before.id]);
    });

    it('registers again when the endpoint was deleted in the Dashboard', async () => {
      const tenant = await createTenant(t);
      const account = await connectStripe(t, tenant.auth);
      const [deleted] = (await stripeClient(account.test.secretKey).webhookEndpoints.list()).data;
      await stripeClient(account.test.secretKey).webhookEndpoints.del(deleted.id);

      const newKey = await rotateToNewKey(tenant.auth, account);
      const after = await stripeClient(newKey).webhookEndpoints.list();
      const settings = await billing(tenant.auth);
      const emitted = await request(t.emulator.url)
        .post('/_emulator/events')
        .send({ account: account.id, type: 'payment_intent.canceled', object: { id: 'pi_notours', object: 'payment_intent', metadata: {} } })
        .expect(201);
      const row = await finishedRow(dataSource, tenant.tenantId, emitted.body.id as string);

      expect(after.data).toHaveLength(1);
      expect(after.data[0].id).not.toBe(deleted.id);
      expect(settings.webhook.registration).toBe('automatic');
      expect(row.verified_by).toBe('endpoint');
    });

    it('registers the endpoint once a new key allows it', async () => {
      const tenant = await createTenant(t);
      const account = await createEmulatorAccount(t);
      const restricted = await request(t.emulator.url)
        .post(`/_emulator/accounts/${account.id}/keys`)
        .send({ mode: 'test', restricted: true, permissions: ['account', 'payment_intents', 'charges', 'refunds'] })
        .expect(201);
      await t.http().post('/api/v1/settings/billing/stripe').set(tenant.auth).send({ publishableKey: restricted.body.publishableKey, secretKey: restricted.body.secretKey }).expect(201);
      const manual = await billing(tenant.auth);

      await rotateToNewKey(tenant.auth, account);
      const settings = await billing(tenant.auth);

      expect(manual.webhook.registration).toBe('manual');
      expect(settings.webhook.registration).toBe('automatic');
      expect(settings.webhook.signingSecret).toBe('endpoint');
    });
  });

  it('deletes the endpoint in Stripe on disconnect and keeps verifying with its secret', async () => {
    const tenant = await createTenant(t);
    const account = await connectStripe(t, tenant.auth);

    await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);
    const endpoints = await stripeClient(account.test.secretKey).webhookEndpoints.list().catch(() => ({ data: [] }));
    const settings = await billing(tenant.auth);

    expect(endpoints.data).toHaveLength(0);
    expect(settings.webhook.registration).toBeNull();
    expect(settings.webhook.signingSecret).toBe('endpoint');
  });
});
