import { DomainEvent } from '@app/common/events/domain-event';
import type { StripeMode } from '@app/common/keys/stripe-keys';
import type Stripe from 'stripe';

/** A Stripe client for one tenant's account, built from its decrypted key. */
export interface TenantStripeClient {
  stripe: Stripe;
  mode: StripeMode;
  accountId: string;
}

export interface ConnectionView {
  status: 'not_connected' | 'connected' | 'error';
  mode: StripeMode | null;
  accountId: string | null;
}

/** A stored endpoint signing secret that this process cannot decrypt, which is a fault of the deployment. */
export interface UndecryptableEndpointSecret {
  /** `current` for the endpoint's own secret, `retired` for a replaced secret still kept (after a disconnect or an operator's change). */
  slot: 'current' | 'retired';
  /** The id of the APP_ENCRYPTION_KEY entry that the secret was encrypted under. */
  encryptionKeyId: string;
  /** `missing_key` when that id is not in APP_ENCRYPTION_KEY, `authentication_failed` when the ciphertext fails authentication. */
  reason: 'missing_key' | 'authentication_failed';
}

/** Who a webhook URL belongs to and which secrets may have signed a delivery to it. */
export interface WebhookEndpointResolution {
  tenantId: string;
  /** The tenant endpoint's own signing secrets, newest first (empty when unknown). */
  endpointSecrets: string[];
  /** Stored signing secrets missing from `endpointSecrets` because they cannot be decrypted. */
  undecryptableSecrets: UndecryptableEndpointSecret[];
  connection: ConnectionView;
}

/** What StripeConnection offers the other contexts. */
export interface StripeConnectionFacade {
  /**
   * The tenant's Stripe client. Throws `stripe_not_connected` when there is no
   * connection and `stripe_keys_invalid` when it is in error, without calling Stripe.
   */
  getClient(tenantId: string): Promise<TenantStripeClient>;
  /**
   * Returns a subquery for another module's statement that reads what getClient reads, as one json
   * value, for the tenant `tenantIdSql` (an expression of that statement). Pass the value to
   * clientFromFields, which checks it as getClient does.
   */
  clientFieldsSql(tenantIdSql: string): string;
  /** Builds the tenant's Stripe client from the value of clientFieldsSql, with getClient's errors. */
  clientFromFields(tenantId: string, fields: unknown): TenantStripeClient;
  getConnection(tenantId: string): Promise<ConnectionView>;
  /**
   * Map an error a Stripe call raised to the contract's error, and turn the
   * connection to `error` when Stripe rejected the key itself.
   */
  translateStripeError(tenantId: string, error: unknown): Promise<Error>;
  /** Look up a webhook endpoint token across tenants: the one reviewed path that does so. */
  resolveWebhookEndpoint(endpointToken: string): Promise<WebhookEndpointResolution | null>;
  /**
   * Record that a verified delivery for the tenant arrived at `at`, shown as
   * `webhook.lastEventAt` on the Billing page. An older time never replaces a newer one.
   */
  recordWebhookEventReceived(tenantId: string, at: Date): Promise<void>;
}

export const STRIPE_CONNECTION_FACADE = Symbol('STRIPE_CONNECTION_FACADE');

/**
 * The read of a tenant's connection state alone. It needs no encryption key,
 * so the ops CLI can offer it where the whole facade cannot be built.
 */
export type StripeConnectionState = Pick<StripeConnectionFacade, 'getConnection'>;

export const STRIPE_CONNECTION_STATE = Symbol('STRIPE_CONNECTION_STATE');

export class StripeConnectedEvent extends DomainEvent<{ accountId: string; mode: StripeMode }> {
  static override readonly eventName = 'stripe_connection.connected';
}

export class StripeKeysRotatedEvent extends DomainEvent<{ accountId: string; mode: StripeMode }> {
  static override readonly eventName = 'stripe_connection.keys_rotated';
}

export class StripeDisconnectedEvent extends DomainEvent<{ accountId: string | null }> {
  static override readonly eventName = 'stripe_connection.disconnected';
}

export class StripeConnectionFailedEvent extends DomainEvent<{ accountId: string | null; code: string }> {
  static override readonly eventName = 'stripe_connection.failed';
}

/** The change of a connection from `error` back to `connected`, made by verify when Stripe accepts the stored key again. */
export class StripeConnectionRestoredEvent extends DomainEvent<{ accountId: string; mode: StripeMode }> {
  static override readonly eventName = 'stripe_connection.restored';
}
