import { maskStripeKey } from '@app/common/keys/stripe-keys';
import { BillingSettingsDto } from './dto/billing-settings.dto';
import { StripeConnectionEntity } from './stripe-connection.entity';

export interface BillingSettingsContext {
  /** `PUBLIC_BASE_URL` without a trailing slash. */
  publicBaseUrl: string;
  liveModeAllowed: boolean;
  now: Date;
}

/** Build the tenant's webhook URL, shown on the Billing page and registered in Stripe. */
export function webhookUrlFor(publicBaseUrl: string, endpointToken: string): string {
  return `${publicBaseUrl}/webhooks/stripe/${endpointToken}`;
}

/** Mask a stored secret key from the parts kept for masking: `sk_test_…gCcv`. */
export function maskStoredSecretKey(prefix: string, last4: string): string {
  return `${prefix}…${last4}`;
}

/** Check whether a signing secret of the tenant's own endpoint is known now, current or still kept after a disconnect. */
export function hasEndpointSecret(connection: StripeConnectionEntity, now: Date): boolean {
  if (connection.endpointSecretCiphertext !== null) {
    return true;
  }

  return connection.retiredEndpointSecretKeptUntil !== null && connection.retiredEndpointSecretKeptUntil > now;
}

/** Build the Settings → Billing body. Keys leave here masked, and no secret column is read. */
export function toBillingSettings(connection: StripeConnectionEntity, context: BillingSettingsContext): BillingSettingsDto {
  const holdsKeys = connection.status !== 'not_connected';
  const lastError =
    connection.status === 'error' && connection.lastErrorCode !== null && connection.lastErrorAt !== null
      ? { code: connection.lastErrorCode, message: connection.lastErrorMessage ?? '', at: connection.lastErrorAt.toISOString() }
      : null;

  return {
    stripe: {
      status: connection.status,
      mode: holdsKeys ? connection.mode : null,
      publishableKey: holdsKeys && connection.publishableKey !== null ? maskStripeKey(connection.publishableKey) : null,
      secretKey:
        holdsKeys && connection.secretKeyPrefix !== null && connection.secretKeyLast4 !== null
          ? maskStoredSecretKey(connection.secretKeyPrefix, connection.secretKeyLast4)
          : null,
      accountId: holdsKeys ? connection.accountId : null,
      connectedAt: holdsKeys ? (connection.connectedAt?.toISOString() ?? null) : null,
      lastVerifiedAt: holdsKeys ? (connection.lastVerifiedAt?.toISOString() ?? null) : null,
      lastError,
    },
    webhook: {
      url: webhookUrlFor(context.publicBaseUrl, connection.webhookEndpointToken),
      registration: holdsKeys ? (connection.webhookRegistration ?? 'manual') : null,
      signingSecret: hasEndpointSecret(connection, context.now) ? 'endpoint' : 'platform',
      lastEventAt: connection.lastEventAt?.toISOString() ?? null,
    },
    liveModeAllowed: context.liveModeAllowed,
  };
}
