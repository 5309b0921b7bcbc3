import { MethodDiscovery } from '@app/common/discovery/method-discovery';
import { STRIPE_EVENT_HANDLER, StripeEventHandlerMetadata } from '@app/common/stripe/on-stripe-event.decorator';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade } from '@app/contracts/stripe-connection.contracts';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { HANDLED_STRIPE_EVENT_TYPES } from '../../src/modules/stripe-connection/stripe-webhook-events';
import { storedKeysInvalid } from '../../src/modules/stripe-connection/stripe-connection.errors';
import { StripeConnectionService } from '../../src/modules/stripe-connection/stripe-connection.service';
import { createOperatorAuth, createTenant, createToken, TenantFixture } from '../support/factories';
import { StripeEmulator } from '@app/stripe-emulator';
import request from 'supertest';
import { STRIPE_MAX_NETWORK_RETRIES } from '../../src/modules/stripe-connection/stripe-client.factory';
import { startTestApp, TestApp } from '../support/test-app';
import {
  CONNECT_PATH,
  EmulatorAccount,
  EmulatorControl,
  KEYS_PATH,
  keysOf,
  masked,
  RecordingClient,
  SETTINGS_PATH,
  VERIFY_PATH,
} from './stripe-connection-helpers';

const SECRET_PREFIX_MESSAGE = 'must start with sk_test_, sk_live_, rk_test_ or rk_live_';
const SECRET_TYPE_MESSAGE = 'must be a string that starts with sk_test_, sk_live_, rk_test_ or rk_live_';

let t: TestApp;
let api: RecordingClient;
let emulator: EmulatorControl;
/** Every JSON log line the app wrote. */
const logLines: string[] = [];

beforeAll(async () => {
  const logDestination = {
    write(line: string): boolean {
      logLines.push(line);

      return true;
    },
  };
  t = await startTestApp({}, undefined, { logDestination });
  api = new RecordingClient(t);
  emulator = new EmulatorControl(t, api);
});

afterAll(async () => {
  await t?.close();
});

/** Create a tenant and connect it with the test keys of a new emulator account. */
async function connectedTenant(): Promise<{ tenant: TenantFixture; account: EmulatorAccount }> {
  const tenant = await createTenant(t);
  const account = await emulator.createAccount();
  const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));
  expect(response.status).toBe(201);

  return { tenant, account };
}

async function allowLiveMode(tenantId: string): Promise<void> {
  await t.app.get<TenancyAdmin>(TENANCY_ADMIN).setLiveModeAllowed(tenantId, true);
}

function facade(): StripeConnectionFacade {
  return t.app.get<StripeConnectionFacade>(STRIPE_CONNECTION_FACADE);
}

async function outboxEventNames(tenantId: string): Promise<string[]> {
  const rows: { event_name: string }[] = await t.app
    .get(DataSource)
    .query('SELECT event_name FROM outbox_events WHERE tenant_id = $1 ORDER BY occurred_at, created_at', [tenantId]);

  return rows.map((row) => row.event_name);
}

async function auditActions(tenant: TenantFixture): Promise<{ action: string; details: unknown }[]> {
  const response = await api.get('/api/v1/audit-log?limit=100', tenant.auth);
  expect(response.status).toBe(200);

  return (response.body as { data: { action: string; details: unknown }[] }).data;
}

describe('GET settings/billing', () => {
  it('shows the not-connected shape for a new tenant', async () => {
    const tenant = await createTenant(t);

    const response = await api.get(SETTINGS_PATH, tenant.auth);

    expect(response.status).toBe(200);
    expect(response.body.stripe).toEqual({
      status: 'not_connected',
      mode: null,
      publishableKey: null,
      secretKey: null,
      accountId: null,
      connectedAt: null,
      lastVerifiedAt: null,
      lastError: null,
    });
    expect(response.body.webhook).toEqual({
      url: expect.stringMatching(new RegExp(`^${t.url}/webhooks/stripe/wh_[A-Za-z0-9]{20,}$`)),
      registration: null,
      signingSecret: 'platform',
      lastEventAt: null,
    });
    expect(response.body.liveModeAllowed).toBe(false);
  });

  it('shows the same webhook URL on every read', async () => {
    const tenant = await createTenant(t);

    const first = await api.get(SETTINGS_PATH, tenant.auth);
    const second = await api.get(SETTINGS_PATH, tenant.auth);

    expect(second.body.webhook.url).toBe(first.body.webhook.url);
  });

  it('lets staff read the settings', async () => {
    const { tenant } = await connectedTenant();
    const staff = await createToken(t, tenant.tenantId, 'staff');

    const response = await api.get(SETTINGS_PATH, staff);

    expect(response.status).toBe(200);
    expect(response.body.stripe.status).toBe('connected');
  });

  it('lets an admin read the settings', async () => {
    const tenant = await createTenant(t);
    const admin = await createToken(t, tenant.tenantId, 'admin');

    expect((await api.get(SETTINGS_PATH, admin)).status).toBe(200);
  });

  it('rejects a request without credentials', async () => {
    expect((await api.get(SETTINGS_PATH, {})).status).toBe(401);
  });

  it('rejects an operator', async () => {
    const operator = await createOperatorAuth(t);

    expect((await api.get(SETTINGS_PATH, operator)).status).toBe(403);
  });

  it('shows liveModeAllowed once an operator allowed it', async () => {
    const tenant = await createTenant(t);
    await allowLiveMode(tenant.tenantId);

    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.liveModeAllowed).toBe(true);
  });
});

describe('POST settings/billing/stripe', () => {
  it('connects test keys', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));

    expect(response.status).toBe(201);
    expect(response.body.stripe).toEqual({
      status: 'connected',
      mode: 'test',
      publishableKey: `pk_test_…${account.test.publishableKey.slice(-4)}`,
      secretKey: `sk_test_…${account.test.secretKey.slice(-4)}`,
      accountId: account.id,
      connectedAt: expect.any(String),
      lastVerifiedAt: expect.any(String),
      lastError: null,
    });
    expect(response.body.webhook.registration).toBe('automatic');
    expect(response.body.webhook.signingSecret).toBe('endpoint');
    expect(response.body.liveModeAllowed).toBe(false);
  });

  it('answers with the body GET returns', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const connected = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));
    const read = await api.get(SETTINGS_PATH, tenant.auth);

    expect(read.body).toEqual(connected.body);
  });

  it('registers the webhook endpoint in the tenant account', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();
    const connected = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));

    const endpoints = await emulator.stripe(account.test.secretKey).webhookEndpoints.list();

    expect(endpoints.data).toHaveLength(1);
    expect(endpoints.data[0].url).toBe(connected.body.webhook.url);
    expect([...endpoints.data[0].enabled_events].sort()).toEqual([...HANDLED_STRIPE_EVENT_TYPES].sort());
    expect(endpoints.data[0].api_version).toBe(Stripe.API_VERSION);
    expect(endpoints.data[0].metadata).toEqual({ tenantId: tenant.tenantId });
  });

  it('stores the endpoint signing secret for webhook verification', async () => {
    const { tenant } = await connectedTenant();
    const url = (await api.get(SETTINGS_PATH, tenant.auth)).body.webhook.url as string;

    const resolved = await facade().resolveWebhookEndpoint(url.split('/').pop() ?? '');

    expect(resolved?.tenantId).toBe(tenant.tenantId);
    expect(resolved?.endpointSecrets).toHaveLength(1);
    expect(resolved?.endpointSecrets[0]).toMatch(/^whsec_/);
    expect(resolved?.connection.status).toBe('connected');
  });

  it('trims whitespace around the keys', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, {
      publishableKey: `  ${account.test.publishableKey}\n`,
      secretKey: `\t${account.test.secretKey}  `,
    });

    expect(response.status).toBe(201);
    expect(response.body.stripe.secretKey).toBe(masked(account.test.secretKey));
  });

  it('connects a restricted key and masks it as rk_test_', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();
    const restricted = await emulator.createKeys(account.id, {
      mode: 'test',
      restricted: true,
      permissions: ['account', 'payment_intents', 'refunds', 'webhook_endpoints'],
    });

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(restricted));

    expect(response.status).toBe(201);
    expect(response.body.stripe.secretKey).toBe(`rk_test_…${restricted.secretKey.slice(-4)}`);
    expect(response.body.webhook.registration).toBe('automatic');
  });

  it('falls back to manual registration without the webhook permission', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();
    const restricted = await emulator.createKeys(account.id, { mode: 'test', restricted: true, permissions: ['account', 'payment_intents'] });

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(restricted));

    expect(response.status).toBe(201);
    expect(response.body.stripe.status).toBe('connected');
    expect(response.body.webhook.registration).toBe('manual');
    expect(response.body.webhook.signingSecret).toBe('platform');
  });

  it('connects live keys once live mode is allowed', async () => {
    const tenant = await createTenant(t);
    await allowLiveMode(tenant.tenantId);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.live));

    expect(response.status).toBe(201);
    expect(response.body.stripe.mode).toBe('live');
    expect(response.body.stripe.secretKey).toBe(`sk_live_…${account.live.secretKey.slice(-4)}`);
  });

  it('rejects a publishable key in the secret field without echoing it', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, { publishableKey: account.test.publishableKey, secretKey: account.test.publishableKey });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'secretKey', message: SECRET_PREFIX_MESSAGE }]);
    expect(response.text).not.toContain(account.test.publishableKey.slice(8));
  });

  it('rejects a secret key in the publishable field without echoing it', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, { publishableKey: account.test.secretKey, secretKey: account.test.secretKey });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'publishableKey', message: 'must start with pk_test_ or pk_live_' }]);
    expect(response.text).not.toContain(account.test.secretKey.slice(8));
  });

  it('rejects a secret key with a bad character without echoing it', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();
    const broken = `${account.test.secretKey}-x`;

    const response = await api.post(CONNECT_PATH, tenant.auth, { publishableKey: account.test.publishableKey, secretKey: broken });

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('secretKey');
    expect(response.text).not.toContain(account.test.secretKey.slice(8));
  });

  it('rejects a missing secret key', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, { publishableKey: account.test.publishableKey });

    expect(response.status).toBe(400);
    expect(response.body.errors.map((error: { field: string }) => error.field)).toContain('secretKey');
  });

  it('rejects an unknown field', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, { ...keysOf(account.test), accountId: account.id });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
  });

  it('checks the format before the modes', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, { publishableKey: 'pk_test_short', secretKey: account.live.secretKey });

    expect(response.status).toBe(400);
  });

  it('rejects keys of different modes', async () => {
    const tenant = await createTenant(t);
    await allowLiveMode(tenant.tenantId);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, { publishableKey: account.test.publishableKey, secretKey: account.live.secretKey });

    expect(response.status).toBe(422);
    expect(response.body.code).toBe('stripe_mode_mismatch');
  });

  it('checks the modes before live mode', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, { publishableKey: account.live.publishableKey, secretKey: account.test.secretKey });

    expect(response.body.code).toBe('stripe_mode_mismatch');
  });

  it('rejects live keys before live mode is allowed', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.live));

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('live_mode_not_allowed');
  });

  it('checks live mode before the connection state', async () => {
    const { tenant } = await connectedTenant();
    const other = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(other.live));

    expect(response.body.code).toBe('live_mode_not_allowed');
  });

  it('rejects a connect when already connected', async () => {
    const { tenant, account } = await connectedTenant();

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('invalid_state');
  });

  it('rejects a connect when the connection is in error', async () => {
    const { tenant, account } = await connectedTenant();
    await emulator.revoke(account.test.secretKey);
    await api.post(VERIFY_PATH, tenant.auth);
    const fresh = await emulator.createKeys(account.id, { mode: 'test' });

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(fresh));

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('invalid_state');
  });

  it('checks the connection state before calling Stripe', async () => {
    const { tenant } = await connectedTenant();
    const other = await emulator.createAccount();
    await emulator.revoke(other.test.secretKey);

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(other.test));

    expect(response.body.code).toBe('invalid_state');
  });

  it('rejects a revoked key', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();
    await emulator.revoke(account.test.secretKey);

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));

    expect(response.status).toBe(422);
    expect(response.body.code).toBe('stripe_keys_invalid');
    expect(response.body.errors).toEqual([{ field: 'secretKey', message: expect.any(String) }]);
  });

  it('leaves the tenant not connected after a rejected key', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();
    await emulator.revoke(account.test.secretKey);
    await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));

    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.stripe.status).toBe('not_connected');
  });

  it('rejects a restricted key without the account permission', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();
    const restricted = await emulator.createKeys(account.id, { mode: 'test', restricted: true, permissions: ['payment_intents'] });

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(restricted));

    expect(response.status).toBe(422);
    expect(response.body.code).toBe('stripe_permission_missing');
    expect(response.body.detail).toContain('rak_account_read');
  });

  it('answers 502 when Stripe fails', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();
    await emulator.failNextCall();

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));

    expect(response.status).toBe(502);
    expect(response.body.code).toBe('stripe_unavailable');
  });

  it('rejects an account connected to another tenant', async () => {
    const { account } = await connectedTenant();
    const other = await createTenant(t);
    const secondKey = await emulator.createKeys(account.id, { mode: 'test' });

    const response = await api.post(CONNECT_PATH, other.auth, keysOf(secondKey));

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('stripe_account_in_use');
  });

  it('allows the same account in the other mode for another tenant', async () => {
    const { account } = await connectedTenant();
    const other = await createTenant(t);
    await allowLiveMode(other.tenantId);

    const response = await api.post(CONNECT_PATH, other.auth, keysOf(account.live));

    expect(response.status).toBe(201);
  });

  it('maps a concurrent connect of one account to stripe_account_in_use', async () => {
    const account = await emulator.createAccount();
    const secondKey = await emulator.createKeys(account.id, { mode: 'test' });
    const first = await createTenant(t);
    const second = await createTenant(t);

    const responses = await Promise.all([
      api.post(CONNECT_PATH, first.auth, keysOf(account.test)),
      api.post(CONNECT_PATH, second.auth, keysOf(secondKey)),
    ]);

    expect(responses.map((response) => response.status).sort()).toEqual([201, 409]);
    expect(responses.find((response) => response.status === 409)?.body.code).toBe('stripe_account_in_use');
  });

  it('rejects staff', async () => {
    const tenant = await createTenant(t);
    const staff = await createToken(t, tenant.tenantId, 'staff');
    const account = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, staff, keysOf(account.test));

    expect(response.status).toBe(403);
  });

  it('lets an admin connect', async () => {
    const tenant = await createTenant(t);
    const admin = await createToken(t, tenant.tenantId, 'admin');
    const account = await emulator.createAccount();

    expect((await api.post(CONNECT_PATH, admin, keysOf(account.test))).status).toBe(201);
  });

  it('writes the connected and webhook_registered audit entries with masked keys', async () => {
    const { tenant, account } = await connectedTenant();

    const entries = await auditActions(tenant);
    const connected = entries.find((entry) => entry.action === 'stripe.connected');

    expect(entries.map((entry) => entry.action)).toEqual(expect.arrayContaining(['stripe.connected', 'stripe.webhook_registered']));
    expect(connected?.details).toMatchObject({ accountId: account.id, mode: 'test', secretKey: masked(account.test.secretKey) });
  });

  it('publishes StripeConnected through the outbox', async () => {
    const { tenant } = await connectedTenant();

    expect(await outboxEventNames(tenant.tenantId)).toContain('stripe_connection.connected');
  });
});

describe('PUT settings/billing/stripe/keys', () => {
  it('rotates to a second key of the same account', async () => {
    const { tenant, account } = await connectedTenant();
    const second = await emulator.createKeys(account.id, { mode: 'test' });

    const response = await api.put(KEYS_PATH, tenant.auth, keysOf(second));

    expect(response.status).toBe(200);
    expect(response.body.stripe.status).toBe('connected');
    expect(response.body.stripe.secretKey).toBe(masked(second.secretKey));
    expect(response.body.stripe.accountId).toBe(account.id);
  });

  it('uses the new key at once', async () => {
    const { tenant, account } = await connectedTenant();
    await (await facade().getClient(tenant.tenantId)).stripe.accounts.retrieveCurrent();
    const second = await emulator.createKeys(account.id, { mode: 'test' });
    await api.put(KEYS_PATH, tenant.auth, keysOf(second));
    await emulator.revoke(account.test.secretKey);

    const client = await facade().getClient(tenant.tenantId);

    await expect(client.stripe.accounts.retrieveCurrent()).resolves.toMatchObject({ id: account.id });
  });

  it('keeps the registered webhook endpoint', async () => {
    const { tenant, account } = await connectedTenant();
    const second = await emulator.createKeys(account.id, { mode: 'test' });
    await api.put(KEYS_PATH, tenant.auth, keysOf(second));

    const endpoints = await emulator.stripe(second.secretKey).webhookEndpoints.list();

    expect(endpoints.data).toHaveLength(1);
  });

  it('rejects keys of another account', async () => {
    const { tenant } = await connectedTenant();
    const other = await emulator.createAccount();

    const response = await api.put(KEYS_PATH, tenant.auth, keysOf(other.test));

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('stripe_account_mismatch');
  });

  it('names the key format for a secret key given as an object', async () => {
    const { tenant, account } = await connectedTenant();
    const second = await emulator.createKeys(account.id, { mode: 'test' });

    const response = await api.put(KEYS_PATH, tenant.auth, { publishableKey: second.publishableKey, secretKey: { key: 'new' } });

    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors).toEqual([{ field: 'secretKey', message: SECRET_TYPE_MESSAGE }]);
  });

  it('rejects a wrapped secret key without echoing it', async () => {
    const { tenant, account } = await connectedTenant();
    const second = await emulator.createKeys(account.id, { mode: 'test' });

    const response = await api.put(KEYS_PATH, tenant.auth, { publishableKey: second.publishableKey, secretKey: { value: second.secretKey } });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'secretKey', message: SECRET_TYPE_MESSAGE }]);
    expect(response.text).not.toContain(second.secretKey.slice(8));
  });

  it('names both key formats when the keys are missing', async () => {
    const { tenant } = await connectedTenant();

    const response = await api.put(KEYS_PATH, tenant.auth, {});

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([
      { field: 'publishableKey', message: 'is required: a string that starts with pk_test_ or pk_live_' },
      { field: 'secretKey', message: 'is required: a string that starts with sk_test_, sk_live_, rk_test_ or rk_live_' },
    ]);
  });

  it('rejects a tenant that is not connected', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();

    const response = await api.put(KEYS_PATH, tenant.auth, keysOf(account.test));

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('stripe_not_connected');
  });

  it('checks the format before the connection', async () => {
    const tenant = await createTenant(t);

    const response = await api.put(KEYS_PATH, tenant.auth, { publishableKey: 'pk_test_1234567890', secretKey: 'whsec_abc' });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'secretKey', message: SECRET_PREFIX_MESSAGE }]);
  });

  it('rejects keys of different modes', async () => {
    const { tenant, account } = await connectedTenant();

    const response = await api.put(KEYS_PATH, tenant.auth, { publishableKey: account.live.publishableKey, secretKey: account.test.secretKey });

    expect(response.status).toBe(422);
    expect(response.body.code).toBe('stripe_mode_mismatch');
  });

  it('rejects live keys before live mode is allowed', async () => {
    const { tenant, account } = await connectedTenant();

    const response = await api.put(KEYS_PATH, tenant.auth, keysOf(account.live));

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('live_mode_not_allowed');
  });

  it('rejects a revoked key', async () => {
    const { tenant, account } = await connectedTenant();
    const second = await emulator.createKeys(account.id, { mode: 'test' });
    await emulator.revoke(second.secretKey);

    const response = await api.put(KEYS_PATH, tenant.auth, keysOf(second));

    expect(response.status).toBe(422);
    expect(response.body.code).toBe('stripe_keys_invalid');
  });

  it('switches from test to live keys of the same account once allowed', async () => {
    const { tenant, account } = await connectedTenant();
    await allowLiveMode(tenant.tenantId);

    const response = await api.put(KEYS_PATH, tenant.auth, keysOf(account.live));

    expect(response.status).toBe(200);
    expect(response.body.stripe.mode).toBe('live');
    expect(response.body.webhook.registration).toBe('automatic');
  });

  it('moves the webhook endpoint to live mode on a switch to live keys', async () => {
    const { tenant, account } = await connectedTenant();
    await allowLiveMode(tenant.tenantId);
    await api.put(KEYS_PATH, tenant.auth, keysOf(account.live));

    const testEndpoints = await emulator.stripe(account.test.secretKey).webhookEndpoints.list();
    const liveEndpoints = await emulator.stripe(account.live.secretKey).webhookEndpoints.list();

    expect(testEndpoints.data).toHaveLength(0);
    expect(liveEndpoints.data).toHaveLength(1);
  });

  it('registers the endpoint when the old key could not', async () => {
    const tenant = await createTenant(t);
    const account = await emulator.createAccount();
    const restricted = await emulator.createKeys(account.id, { mode: 'test', restricted: true, permissions: ['account'] });
    await api.post(CONNECT_PATH, tenant.auth, keysOf(restricted));

    const response = await api.put(KEYS_PATH, tenant.auth, keysOf(account.test));

    expect(response.body.webhook.registration).toBe('automatic');
    expect(response.body.webhook.signingSecret).toBe('endpoint');
  });

  it('restores a connection in error with a fresh key', async () => {
    const { tenant, account } = await connectedTenant();
    await emulator.revoke(account.test.secretKey);
    expect((await api.post(VERIFY_PATH, tenant.auth)).body.stripe.status).toBe('error');
    const fresh = await emulator.createKeys(account.id, { mode: 'test' });

    const response = await api.put(KEYS_PATH, tenant.auth, keysOf(fresh));

    expect(response.status).toBe(200);
    expect(response.body.stripe.status).toBe('connected');
    expect(response.body.stripe.lastError).toBeNull();
  });

  it('keeps lastEventAt of the same account', async () => {
    const { tenant, account } = await connectedTenant();
    const at = new Date('2026-12-04T19:35:00.000Z');
    await facade().recordWebhookEventReceived(tenant.tenantId, at);
    const second = await emulator.createKeys(account.id, { mode: 'test' });

    const response = await api.put(KEYS_PATH, tenant.auth, keysOf(second));

    expect(response.status).toBe(200);
    expect(response.body.webhook.lastEventAt).toBe(at.toISOString());
  });

  it('writes the keys_rotated audit entry and event', async () => {
    const { tenant, account } = await connectedTenant();
    const second = await emulator.createKeys(account.id, { mode: 'test' });
    await api.put(KEYS_PATH, tenant.auth, keysOf(second));

    const entries = await auditActions(tenant);

    expect(entries.find((entry) => entry.action === 'stripe.keys_rotated')?.details).toMatchObject({ secretKey: masked(second.secretKey) });
    expect(await outboxEventNames(tenant.tenantId)).toContain('stripe_connection.keys_rotated');
  });

  it('rejects staff', async () => {
    const { tenant, account } = await connectedTenant();
    const staff = await createToken(t, tenant.tenantId, 'staff');

    expect((await api.put(KEYS_PATH, staff, keysOf(account.test))).status).toBe(403);
  });
});

describe('POST settings/billing/stripe/verify', () => {
  it('refreshes lastVerifiedAt of a working key', async () => {
    const { tenant } = await connectedTenant();
    const before = (await api.get(SETTINGS_PATH, tenant.auth)).body.stripe.lastVerifiedAt as string;

    const response = await api.post(VERIFY_PATH, tenant.auth);

    expect(response.status).toBe(200);
    expect(response.body.stripe.status).toBe('connected');
    expect(Date.parse(response.body.stripe.lastVerifiedAt)).toBeGreaterThan(Date.parse(before));
  });

  it('turns a revoked key into status error with lastError', async () => {
    const { tenant, account } = await connectedTenant();
    await emulator.revoke(account.test.secretKey);

    const response = await api.post(VERIFY_PATH, tenant.auth);

    expect(response.status).toBe(200);
    expect(response.body.stripe.status).toBe('error');
    expect(response.body.stripe.lastError).toEqual({ code: 'stripe_keys_invalid', message: expect.any(String), at: expect.any(String) });
    expect(response.body.stripe.secretKey).toBe(masked(account.test.secretKey));
  });

  it('records verify_failed and StripeConnectionFailed', async () => {
    const { tenant, account } = await connectedTenant();
    await emulator.revoke(account.test.secretKey);
    await api.post(VERIFY_PATH, tenant.auth);

    const entries = await auditActions(tenant);

    expect(entries.map((entry) => entry.action)).toContain('stripe.verify_failed');
    expect(await outboxEventNames(tenant.tenantId)).toContain('stripe_connection.failed');
  });

  it('records StripeConnectionRestored when the stored key works again', async () => {
    const { tenant } = await connectedTenant();
    // As after a Stripe call whose key Stripe rejected, while the key itself stays valid.
    await t.app.get(StripeConnectionService).recordConnectionFailure(tenant.tenantId, storedKeysInvalid(), 'stripe_call');

    const response = await api.post(VERIFY_PATH, tenant.auth);
    const events = await outboxEventNames(tenant.tenantId);

    expect(response.body.stripe.status).toBe('connected');
    expect(response.body.stripe.lastError).toBeNull();
    expect(events.filter((name) => name === 'stripe_connection.restored')).toHaveLength(1);
    expect(events.indexOf('stripe_connection.restored')).toBeGreaterThan(events.indexOf('stripe_connection.failed'));
  });

  it('records no event when verify finds the connection already connected', async () => {
    const { tenant } = await connectedTenant();

    await api.post(VERIFY_PATH, tenant.auth);

    expect(await outboxEventNames(tenant.tenantId)).not.toContain('stripe_connection.restored');
  });

  it('answers 502 and leaves the status when Stripe fails', async () => {
    const { tenant } = await connectedTenant();
    await emulator.failNextCall();

    const response = await api.post(VERIFY_PATH, tenant.auth);

    expect(response.status).toBe(502);
    expect(response.body.code).toBe('stripe_unavailable');
    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.stripe.status).toBe('connected');
  });

  it('rejects a tenant that is not connected', async () => {
    const tenant = await createTenant(t);

    const response = await api.post(VERIFY_PATH, tenant.auth);

    expect(response.status).toBe(409);
    expect(response.body.code).toBe('stripe_not_connected');
  });

  it('rejects staff', async () => {
    const { tenant } = await connectedTenant();
    const staff = await createToken(t, tenant.tenantId, 'staff');

    expect((await api.post(VERIFY_PATH, staff)).status).toBe(403);
  });
});

describe('stored secret key that cannot be decrypted', () => {
  const broken: TenantFixture[] = [];

  // Disconnecting destroys the broken key, so later suites that decrypt every stored secret still can.
  afterEach(async () => {
    for (const tenant of broken.splice(0)) {
      await api.delete(CONNECT_PATH, tenant.auth);
    }
  });

  /**
   * Make the stored key undecryptable as a process would find it: stored under
   * a key id missing from APP_ENCRYPTION_KEY, or with a ciphertext that fails
   * authentication. The version goes up so no cached client hides the change.
   */
  async function breakStoredKey(tenant: TenantFixture, how: 'missing_key' | 'authentication_failed'): Promise<void> {
    broken.push(tenant);
    const tenantId = tenant.tenantId;
    const change = how === 'missing_key' ? `secret_key_key_id = 'retired'` : `secret_key_ciphertext = overlay(secret_key_ciphertext placing 'AAAA' from 17 for 4)`;
    await t.app.get(DataSource).query(`UPDATE stripe_connections SET ${change}, version = version + 1 WHERE tenant_id = $1`, [tenantId]);
  }

  it.each(['missing_key', 'authentication_failed'] as const)('answers verify with stripe_keys_invalid (%s)', async (how) => {
    const { tenant } = await connectedTenant();
    await breakStoredKey(tenant, how);

    const response = await api.post(VERIFY_PATH, tenant.auth);

    expect(response.status).toBe(422);
    expect(response.body.code).toBe('stripe_keys_invalid');
    expect(response.body.detail).toContain('cannot be decrypted');
    expect(response.body.detail).toContain('APP_ENCRYPTION_KEY');
  });

  it('logs the cause once at error level', async () => {
    const { tenant, account } = await connectedTenant();
    await breakStoredKey(tenant, 'missing_key');
    const before = logLines.length;

    await api.post(VERIFY_PATH, tenant.auth);
    const entries = logLines
      .slice(before)
      .map((line) => JSON.parse(line) as { level: number; msg: string; tenantId?: string; encryptionKeyId?: string; reason?: string })
      .filter((entry) => entry.tenantId === tenant.tenantId && entry.level >= 40);

    expect(entries).toHaveLength(1);
    expect(entries[0].level).toBe(50);
    expect(entries[0].msg).toContain('Could not decrypt the stored Stripe secret key');
    expect(entries[0]).toMatchObject({ encryptionKeyId: 'retired', reason: 'missing_key' });
    expect(logLines.slice(before).join('\n')).not.toContain(account.test.secretKey);
  });

  it('leaves the connection status unchanged', async () => {
    const { tenant } = await connectedTenant();
    await breakStoredKey(tenant, 'missing_key');

    await api.post(VERIFY_PATH, tenant.auth);
    const settings = await api.get(SETTINGS_PATH, tenant.auth);

    expect(settings.body.stripe.status).toBe('connected');
    expect(await outboxEventNames(tenant.tenantId)).not.toContain('stripe_connection.failed');
  });

  it('lets the tenant enter the keys again', async () => {
    const { tenant, account } = await connectedTenant();
    await breakStoredKey(tenant, 'missing_key');

    const edited = await api.put(KEYS_PATH, tenant.auth, keysOf(account.test));
    const verified = await api.post(VERIFY_PATH, tenant.auth);

    expect(edited.status).toBe(200);
    expect(verified.status).toBe(200);
    expect(verified.body.stripe.status).toBe('connected');
  });

  it('lets the tenant disconnect', async () => {
    const { tenant } = await connectedTenant();
    await breakStoredKey(tenant, 'authentication_failed');

    const response = await api.delete(CONNECT_PATH, tenant.auth);

    expect(response.status).toBe(204);
    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.stripe.status).toBe('not_connected');
  });
});

describe('DELETE settings/billing/stripe', () => {
  it('disconnects and shows not_connected', async () => {
    const { tenant } = await connectedTenant();
    const before = (await api.get(SETTINGS_PATH, tenant.auth)).body.webhook.url as string;

    const response = await api.delete(CONNECT_PATH, tenant.auth);
    const settings = await api.get(SETTINGS_PATH, tenant.auth);

    expect(response.status).toBe(204);
    expect(settings.body.stripe.status).toBe('not_connected');
    expect(settings.body.stripe.secretKey).toBeNull();
    expect(settings.body.stripe.accountId).toBeNull();
    expect(settings.body.webhook.url).toBe(before);
    expect(settings.body.webhook.registration).toBeNull();
  });

  it('keeps the endpoint signing secret after a disconnect', async () => {
    const { tenant } = await connectedTenant();
    const url = (await api.get(SETTINGS_PATH, tenant.auth)).body.webhook.url as string;
    await api.delete(CONNECT_PATH, tenant.auth);

    const resolved = await facade().resolveWebhookEndpoint(url.split('/').pop() ?? '');

    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.webhook.signingSecret).toBe('endpoint');
    expect(resolved?.endpointSecrets).toHaveLength(1);
    expect(resolved?.connection).toEqual({ status: 'not_connected', mode: null, accountId: null });
  });

  it('deletes the webhook endpoint in Stripe', async () => {
    const { tenant, account } = await connectedTenant();

    await api.delete(CONNECT_PATH, tenant.auth);

    expect((await emulator.stripe(account.test.secretKey).webhookEndpoints.list()).data).toHaveLength(0);
  });

  it('answers 204 when not connected', async () => {
    const tenant = await createTenant(t);

    expect((await api.delete(CONNECT_PATH, tenant.auth)).status).toBe(204);
  });

  it('makes getClient answer stripe_not_connected', async () => {
    const { tenant } = await connectedTenant();
    await api.delete(CONNECT_PATH, tenant.auth);

    await expect(facade().getClient(tenant.tenantId)).rejects.toMatchObject({ code: 'stripe_not_connected' });
  });

  it('reconnects with the same webhook URL and a new endpoint', async () => {
    const { tenant, account } = await connectedTenant();
    const before = (await api.get(SETTINGS_PATH, tenant.auth)).body.webhook.url as string;
    await api.delete(CONNECT_PATH, tenant.auth);

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));
    const resolved = await facade().resolveWebhookEndpoint(before.split('/').pop() ?? '');

    expect(response.status).toBe(201);
    expect(response.body.webhook.url).toBe(before);
    expect(response.body.webhook.registration).toBe('automatic');
    expect((await emulator.stripe(account.test.secretKey).webhookEndpoints.list()).data).toHaveLength(1);
    expect(resolved?.endpointSecrets).toHaveLength(2);
    expect(resolved?.endpointSecrets[0]).not.toBe(resolved?.endpointSecrets[1]);
  });

  it('starts a connection to another account without a last event', async () => {
    const { tenant } = await connectedTenant();
    await facade().recordWebhookEventReceived(tenant.tenantId, new Date('2026-12-04T19:35:00.000Z'));
    await api.delete(CONNECT_PATH, tenant.auth);
    const other = await emulator.createAccount();

    const response = await api.post(CONNECT_PATH, tenant.auth, keysOf(other.test));
    const settings = await api.get(SETTINGS_PATH, tenant.auth);

    expect(response.status).toBe(201);
    expect(response.body.webhook.lastEventAt).toBeNull();
    expect(settings.body.webhook.lastEventAt).toBeNull();
  });

  it('starts a reconnect of the same account without a last event', async () => {
    const { tenant, account } = await connectedTenant();
    await facade().recordWebhookEventReceived(tenant.tenantId, new Date('2026-12-04T19:35:00.000Z'));
    await api.delete(CONNECT_PATH, tenant.auth);

    await api.post(CONNECT_PATH, tenant.auth, keysOf(account.test));

    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.webhook.lastEventAt).toBeNull();
  });

  it('frees the account for another tenant', async () => {
    const { tenant, account } = await connectedTenant();
    await api.delete(CONNECT_PATH, tenant.auth);
    const other = await createTenant(t);

    expect((await api.post(CONNECT_PATH, other.auth, keysOf(account.test))).status).toBe(201);
  });

  it('writes the disconnected audit entry and event', async () => {
    const { tenant } = await connectedTenant();
    await api.delete(CONNECT_PATH, tenant.auth);

    expect((await auditActions(tenant)).map((entry) => entry.action)).toContain('stripe.disconnected');
    expect(await outboxEventNames(tenant.tenantId)).toContain('stripe_connection.disconnected');
  });

  it('rejects staff', async () => {
    const { tenant } = await connectedTenant();
    const staff = await createToken(t, tenant.tenantId, 'staff');

    expect((await api.delete(CONNECT_PATH, staff)).status).toBe(403);
  });
});

describe('StripeConnection facade', () => {
  it('getClient reaches the tenant account', async () => {
    const { tenant, account } = await connectedTenant();

    const client = await facade().getClient(tenant.tenantId);

    expect(client.mode).toBe('test');
    expect(client.accountId).toBe(account.id);
    await expect(client.stripe.accounts.retrieveCurrent()).resolves.toMatchObject({ id: account.id });
  });

  it('getClient rejects a tenant that never connected', async () => {
    const tenant = await createTenant(t);

    await expect(facade().getClient(tenant.tenantId)).rejects.toMatchObject({ code: 'stripe_not_connected' });
  });

  it('getClient rejects a connection in error', async () => {
    const { tenant, account } = await connectedTenant();
    await emulator.revoke(account.test.secretKey);
    await api.post(VERIFY_PATH, tenant.auth);

    await expect(facade().getClient(tenant.tenantId)).rejects.toMatchObject({ code: 'stripe_keys_invalid' });
  });

  it('translateStripeError turns a rejected key into status error', async () => {
    const { tenant, account } = await connectedTenant();
    const client = await facade().getClient(tenant.tenantId);
    await emulator.revoke(account.test.secretKey);
    const failure = await client.stripe.accounts.retrieveCurrent().catch((error: unknown) => error);

    const translated = await facade().translateStripeError(tenant.tenantId, failure);
    const settings = await api.get(SETTINGS_PATH, tenant.auth);

    expect(translated).toMatchObject({ code: 'stripe_keys_invalid' });
    expect(settings.body.stripe.status).toBe('error');
    expect(settings.body.stripe.lastError.code).toBe('stripe_keys_invalid');
    expect(await outboxEventNames(tenant.tenantId)).toContain('stripe_connection.failed');
  });

  it('translateStripeError keeps the connection when only a replaced key failed', async () => {
    const { tenant, account } = await connectedTenant();
    const oldClient = await facade().getClient(tenant.tenantId);
    const second = await emulator.createKeys(account.id, { mode: 'test' });
    await api.put(KEYS_PATH, tenant.auth, keysOf(second));
    await emulator.revoke(account.test.secretKey);
    const failure = await oldClient.stripe.accounts.retrieveCurrent().catch((error: unknown) => error);

    const translated = await facade().translateStripeError(tenant.tenantId, failure);

    expect(translated).toMatchObject({ code: 'stripe_unavailable' });
    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.stripe.status).toBe('connected');
  });

  it('translateStripeError maps an unreachable Stripe to stripe_unavailable', async () => {
    const { tenant } = await connectedTenant();
    const client = await facade().getClient(tenant.tenantId);
    await emulator.failNextCall();
    const failure = await client.stripe.accounts.retrieveCurrent().catch((error: unknown) => error);

    const translated = await facade().translateStripeError(tenant.tenantId, failure);

    expect(translated).toMatchObject({ code: 'stripe_unavailable' });
    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.stripe.status).toBe('connected');
  });

  it('getConnection shows the connection without keys', async () => {
    const { tenant, account } = await connectedTenant();

    expect(await facade().getConnection(tenant.tenantId)).toEqual({ status: 'connected', mode: 'test', accountId: account.id });
  });

  it('resolveWebhookEndpoint returns null for an unknown token', async () => {
    expect(await facade().resolveWebhookEndpoint('wh_unknownunknownunknown1')).toBeNull();
  });

  it('resolveWebhookEndpoint returns null for a malformed token', async () => {
    expect(await facade().resolveWebhookEndpoint("wh_' OR 1=1 --")).toBeNull();
  });

  it('recordWebhookEventReceived shows as lastEventAt', async () => {
    const { tenant } = await connectedTenant();
    const at = new Date('2026-12-04T19:35:00.000Z');

    await facade().recordWebhookEventReceived(tenant.tenantId, at);
    await facade().recordWebhookEventReceived(tenant.tenantId, new Date(at.getTime() - 60_000));

    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.webhook.lastEventAt).toBe(at.toISOString());
  });
});

describe('PUT ops/tenants/:tenantId/webhook-secret', () => {
  const secret = `whsec_${'k'.repeat(32)}`;

  it('stores the secret for webhook verification', async () => {
    const tenant = await createTenant(t);
    const operator = await createOperatorAuth(t);

    const response = await api.put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`, operator, { secret });
    const settings = await api.get(SETTINGS_PATH, tenant.auth);
    const resolved = await facade().resolveWebhookEndpoint((settings.body.webhook.url as string).split('/').pop() ?? '');

    expect(response.status).toBe(204);
    expect(settings.body.webhook.signingSecret).toBe('endpoint');
    expect(resolved?.endpointSecrets).toEqual([secret]);
  });

  it('keeps the replaced secret verifying for 24 hours', async () => {
    const { tenant } = await connectedTenant();
    const operator = await createOperatorAuth(t);
    const token = ((await api.get(SETTINGS_PATH, tenant.auth)).body.webhook.url as string).split('/').pop() ?? '';
    const registered = (await facade().resolveWebhookEndpoint(token))?.endpointSecrets ?? [];
    const before = Date.now();

    const response = await api.put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`, operator, { secret });
    const resolved = await facade().resolveWebhookEndpoint(token);
    const [row] = await t.app
      .get(DataSource)
      .query(`SELECT retired_endpoint_secret_kept_until AS "keptUntil" FROM stripe_connections WHERE tenant_id = $1`, [tenant.tenantId]);

    expect(response.status).toBe(204);
    expect(registered).toHaveLength(1);
    expect(resolved?.endpointSecrets).toEqual([secret, registered[0]]);
    expect((row.keptUntil as Date).getTime()).toBeGreaterThanOrEqual(before + 24 * 60 * 60 * 1000);
    expect((row.keptUntil as Date).getTime()).toBeLessThan(before + 25 * 60 * 60 * 1000);
  });

  it('keeps the replaced secret when the same secret is set twice', async () => {
    const { tenant } = await connectedTenant();
    const operator = await createOperatorAuth(t);
    const token = ((await api.get(SETTINGS_PATH, tenant.auth)).body.webhook.url as string).split('/').pop() ?? '';
    const registered = (await facade().resolveWebhookEndpoint(token))?.endpointSecrets ?? [];

    await api.put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`, operator, { secret });
    await api.put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`, operator, { secret });
    const resolved = await facade().resolveWebhookEndpoint(token);

    expect(resolved?.endpointSecrets).toEqual([secret, registered[0]]);
  });

  it('keeps registration automatic after replacing a registered secret', async () => {
    const { tenant } = await connectedTenant();
    const operator = await createOperatorAuth(t);
    const registered = await api.get(SETTINGS_PATH, tenant.auth);

    await api.put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`, operator, { secret });
    const settings = await api.get(SETTINGS_PATH, tenant.auth);

    expect(registered.body.webhook.registration).toBe('automatic');
    expect(settings.body.webhook.registration).toBe('automatic');
    expect(settings.body.webhook.signingSecret).toBe('endpoint');
  });

  it('still deletes the registered endpoint on disconnect after a hand-set secret', async () => {
    const { tenant, account } = await connectedTenant();
    const operator = await createOperatorAuth(t);
    await api.put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`, operator, { secret });

    const response = await api.delete(CONNECT_PATH, tenant.auth);
    const endpoints = await emulator.stripe(account.test.secretKey).webhookEndpoints.list();

    expect(response.status).toBe(204);
    expect(endpoints.data).toEqual([]);
  });

  it('writes the webhook_secret_set audit entry', async () => {
    const tenant = await createTenant(t);
    const operator = await createOperatorAuth(t);
    await api.put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`, operator, { secret });

    expect((await auditActions(tenant)).map((entry) => entry.action)).toContain('tenant.webhook_secret_set');
  });

  it('answers 404 for an unknown tenant', async () => {
    const operator = await createOperatorAuth(t);

    const response = await api.put('/api/v1/ops/tenants/9b2f6c1e-0d4a-4e8b-a7c3-5f1e2d3c4b5a/webhook-secret', operator, { secret });

    expect(response.status).toBe(404);
    expect(response.body.code).toBe('not_found');
  });

  it('answers 404 for a malformed tenant id', async () => {
    const operator = await createOperatorAuth(t);

    expect((await api.put('/api/v1/ops/tenants/not-a-uuid/webhook-secret', operator, { secret })).status).toBe(404);
  });

  it('rejects a value that is not a signing secret without echoing it', async () => {
    const tenant = await createTenant(t);
    const operator = await createOperatorAuth(t);

    const response = await api.put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`, operator, { secret: 'sk_test_notasigningsecret123' });

    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('secret');
    expect(response.text).not.toContain('notasigningsecret');
  });

  it('rejects a tenant owner', async () => {
    const tenant = await createTenant(t);

    expect((await api.put(`/api/v1/ops/tenants/${tenant.tenantId}/webhook-secret`, tenant.auth, { secret })).status).toBe(403);
  });
});

describe('cross-tenant isolation', () => {
  it('shows another tenant nothing of a connection', async () => {
    const { tenant, account } = await connectedTenant();
    const other = await createTenant(t);

    const mine = await api.get(SETTINGS_PATH, tenant.auth);
    const theirs = await api.get(SETTINGS_PATH, other.auth);

    expect(theirs.body.stripe.status).toBe('not_connected');
    expect(theirs.body.webhook.url).not.toBe(mine.body.webhook.url);
    expect(theirs.text).not.toContain(account.id);
    expect(theirs.text).not.toContain(account.test.secretKey.slice(-4));
  });

  it('leaves a connection alone when another tenant disconnects', async () => {
    const { tenant } = await connectedTenant();
    const other = await createTenant(t);

    await api.delete(CONNECT_PATH, other.auth);

    expect((await api.get(SETTINGS_PATH, tenant.auth)).body.stripe.status).toBe('connected');
  });

  it('answers stripe_not_connected to another tenant verify', async () => {
    await connectedTenant();
    const other = await createTenant(t);

    expect((await api.post(VERIFY_PATH, other.auth)).body.code).toBe('stripe_not_connected');
  });

  it('resolves each webhook token to its own tenant', async () => {
    const first = await connectedTenant();
    const second = await connectedTenant();
    const secondUrl = (await api.get(SETTINGS_PATH, second.tenant.auth)).body.webhook.url as string;

    const resolved = await facade().resolveWebhookEndpoint(secondUrl.split('/').pop() ?? '');

    expect(resolved?.tenantId).toBe(second.tenant.tenantId);
    expect(resolved?.tenantId).not.toBe(first.tenant.tenantId);
  });
});

describe('Stripe timeouts', () => {
  let slowEmulator: StripeEmulator;
  let slow: TestApp;

  beforeAll(async () => {
    slowEmulator = new StripeEmulator({ port: 0, faultTimeoutMs: 1_500 });
    await slowEmulator.start();
    slow = await startTestApp({ STRIPE_TIMEOUT_MS: '300' }, slowEmulator);
  });

  afterAll(async () => {
    await slow?.close();
    await slowEmulator?.stop();
  });

  it('answers 502 when Stripe times out', async () => {
    const tenant = await createTenant(slow);
    const account = (await request(slowEmulator.url).post('/_emulator/accounts').send({}).expect(201)).body as EmulatorAccount;
    await request(slowEmulator.url)
      .post('/_emulator/faults')
      .send({ kind: 'timeout', count: STRIPE_MAX_NETWORK_RETRIES + 1 })
      .expect(201);

    const response = await slow.http().post(CONNECT_PATH).set(tenant.auth).send(keysOf(account.test));

    expect(response.status).toBe(502);
    expect(response.body.code).toBe('stripe_unavailable');
    expect(response.text).not.toContain(account.test.secretKey.slice(8));
  });
});

describe('OpenAPI document', () => {
  it('lists the Settings → Billing routes', async () => {
    const response = await api.get('/api/docs-json', {});
    const paths = response.body.paths as Record<string, Record<string, unknown>>;

    expect(Object.keys(paths['/api/v1/settings/billing'] ?? {})).toEqual(['get']);
    expect(Object.keys(paths['/api/v1/settings/billing/stripe'] ?? {}).sort()).toEqual(['delete', 'post']);
    expect(Object.keys(paths['/api/v1/settings/billing/stripe/keys'] ?? {})).toEqual(['put']);
    expect(Object.keys(paths['/api/v1/settings/billing/stripe/verify'] ?? {})).toEqual(['post']);
    expect(Object.keys(paths['/api/v1/ops/tenants/{tenantId}/webhook-secret'] ?? {})).toEqual(['put']);
  });
});

describe('webhook endpoint event types', () => {
  it('subscribes to every handled Stripe event type', () => {
    const handled = t.app
      .get(MethodDiscovery)
      .findMethods<StripeEventHandlerMetadata>(STRIPE_EVENT_HANDLER)
      .flatMap((handler) => handler.metadata.types);

    expect(HANDLED_STRIPE_EVENT_TYPES).toEqual(expect.arrayContaining([...new Set(handled)]));
  });
});

describe('secret keys in responses', () => {
  it('no response of this suite contains a secret key', () => {
    expect(api.responses.length).toBeGreaterThan(0);
    expect(api.leakingResponses()).toEqual([]);
  });
});
