import { hasEndpointSecret, maskStoredSecretKey, toBillingSettings, webhookUrlFor } from './billing-settings.mapper';
import { StripeConnectionEntity } from './stripe-connection.entity';

const NOW = new Date('2026-12-04T19:35:00.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const TOKEN = 'wh_3kTqV9sXnR2mLp8aZc4Yabcd';
const CONTEXT = { publicBaseUrl: 'https://billing.example.com', liveModeAllowed: false, now: NOW };

function connection(overrides: Partial<StripeConnectionEntity> = {}): StripeConnectionEntity {
  return Object.assign(new StripeConnectionEntity(), {
    id: '6f9d0a4e-3c1b-4f5e-9a7d-2b8c1e0f4a6d',
    tenantId: '0d3c8b7e-1a2f-4e5d-8c9b-7a6f5e4d3c2b',
    status: 'not_connected',
    mode: null,
    accountId: null,
    publishableKey: null,
    secretKeyCiphertext: null,
    secretKeyKeyId: null,
    secretKeyPrefix: null,
    secretKeyLast4: null,
    connectedAt: null,
    lastVerifiedAt: null,
    lastErrorCode: null,
    lastErrorMessage: null,
    lastErrorAt: null,
    webhookEndpointToken: TOKEN,
    stripeWebhookEndpointId: null,
    webhookRegistration: null,
    endpointSecretCiphertext: null,
    endpointSecretKeyId: null,
    retiredEndpointSecretCiphertext: null,
    retiredEndpointSecretKeyId: null,
    retiredEndpointSecretKeptUntil: null,
    disconnectedAt: null,
    lastEventAt: null,
    version: 1,
    createdAt: NOW,
    updatedAt: NOW,
    ...overrides,
  });
}

const CONNECTED: Partial<StripeConnectionEntity> = {
  status: 'connected',
  mode: 'test',
  accountId: 'acct_1Nv0FGQ9RKHgCVdK',
  publishableKey: 'pk_test_51Nv0FGQ9RKHgCVdKaaaa8yR8',
  secretKeyCiphertext: 'ciphertext',
  secretKeyKeyId: 'test',
  secretKeyPrefix: 'sk_test_',
  secretKeyLast4: 'gCcv',
  connectedAt: NOW,
  lastVerifiedAt: NOW,
  stripeWebhookEndpointId: 'we_123',
  webhookRegistration: 'automatic',
  endpointSecretCiphertext: 'ciphertext',
  endpointSecretKeyId: 'test',
};

describe('maskStoredSecretKey', () => {
  it('joins prefix, ellipsis and last four', () => {
    expect(maskStoredSecretKey('rk_live_', 'Ab12')).toBe('rk_live_…Ab12');
  });
});

describe('webhookUrlFor', () => {
  it('appends the token to the webhook path', () => {
    expect(webhookUrlFor('https://billing.example.com', TOKEN)).toBe(`https://billing.example.com/webhooks/stripe/${TOKEN}`);
  });
});

describe('toBillingSettings', () => {
  it('masks both keys of a connection', () => {
    const settings = toBillingSettings(connection(CONNECTED), CONTEXT);

    expect(settings.stripe.publishableKey).toBe('pk_test_…8yR8');
    expect(settings.stripe.secretKey).toBe('sk_test_…gCcv');
  });

  it('shows a connected connection in full', () => {
    const settings = toBillingSettings(connection(CONNECTED), CONTEXT);

    expect(settings).toEqual({
      stripe: {
        status: 'connected',
        mode: 'test',
        publishableKey: 'pk_test_…8yR8',
        secretKey: 'sk_test_…gCcv',
        accountId: 'acct_1Nv0FGQ9RKHgCVdK',
        connectedAt: NOW.toISOString(),
        lastVerifiedAt: NOW.toISOString(),
        lastError: null,
      },
      webhook: {
        url: `https://billing.example.com/webhooks/stripe/${TOKEN}`,
        registration: 'automatic',
        signingSecret: 'endpoint',
        lastEventAt: null,
      },
      liveModeAllowed: false,
    });
  });

  it('shows the not-connected shape with the webhook URL', () => {
    const settings = toBillingSettings(connection(), { ...CONTEXT, liveModeAllowed: true });

    expect(settings).toEqual({
      stripe: {
        status: 'not_connected',
        mode: null,
        publishableKey: null,
        secretKey: null,
        accountId: null,
        connectedAt: null,
        lastVerifiedAt: null,
        lastError: null,
      },
      webhook: {
        url: `https://billing.example.com/webhooks/stripe/${TOKEN}`,
        registration: null,
        signingSecret: 'platform',
        lastEventAt: null,
      },
      liveModeAllowed: true,
    });
  });

  it('shows lastError of a connection in error', () => {
    const at = new Date(NOW.getTime() - 1000);
    const settings = toBillingSettings(
      connection({ ...CONNECTED, status: 'error', lastErrorCode: 'stripe_keys_invalid', lastErrorMessage: 'Stripe rejected the secret key.', lastErrorAt: at }),
      CONTEXT,
    );

    expect(settings.stripe.lastError).toEqual({ code: 'stripe_keys_invalid', message: 'Stripe rejected the secret key.', at: at.toISOString() });
  });

  it('shows a manual registration with platform secrets', () => {
    const settings = toBillingSettings(
      connection({ ...CONNECTED, webhookRegistration: 'manual', stripeWebhookEndpointId: null, endpointSecretCiphertext: null, endpointSecretKeyId: null }),
      CONTEXT,
    );

    expect(settings.webhook.registration).toBe('manual');
    expect(settings.webhook.signingSecret).toBe('platform');
  });

  it('shows lastEventAt', () => {
    const settings = toBillingSettings(connection({ lastEventAt: NOW }), CONTEXT);

    expect(settings.webhook.lastEventAt).toBe(NOW.toISOString());
  });
});

describe('hasEndpointSecret', () => {
  it('is true while a disconnected secret is kept', () => {
    const keptSecret = connection({ retiredEndpointSecretCiphertext: 'c', retiredEndpointSecretKeyId: 'k', retiredEndpointSecretKeptUntil: new Date(NOW.getTime() + DAY_MS) });

    expect(hasEndpointSecret(keptSecret, NOW)).toBe(true);
  });

  it('is false once the 14 days are over', () => {
    const expired = connection({ retiredEndpointSecretCiphertext: 'c', retiredEndpointSecretKeyId: 'k', retiredEndpointSecretKeptUntil: new Date(NOW.getTime() - 1) });

    expect(hasEndpointSecret(expired, NOW)).toBe(false);
  });
});
