import type { StripeMode } from '@app/common/keys/stripe-keys';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type StripeConnectionStatus = 'not_connected' | 'connected' | 'error';
export type WebhookRegistration = 'automatic' | 'manual';

/**
 * A tenant's connection to its own Stripe account, one row per tenant. The row
 * outlives disconnects, so the webhook endpoint token (and the URL built from
 * it) stays the same across reconnects.
 */
@Entity({ name: 'stripe_connections' })
export class StripeConnectionEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'text' })
  status!: StripeConnectionStatus;

  @Column({ type: 'text', nullable: true })
  mode!: StripeMode | null;

  @Column({ name: 'account_id', type: 'text', nullable: true })
  accountId!: string | null;

  /** Stored in full because publishable keys are public, but only ever returned masked. */
  @Column({ name: 'publishable_key', type: 'text', nullable: true })
  publishableKey!: string | null;

  @Column({ name: 'secret_key_ciphertext', type: 'text', nullable: true })
  secretKeyCiphertext!: string | null;

  @Column({ name: 'secret_key_key_id', type: 'text', nullable: true })
  secretKeyKeyId!: string | null;

  /** The secret key's masking prefix, such as `rk_live_`. */
  @Column({ name: 'secret_key_prefix', type: 'text', nullable: true })
  secretKeyPrefix!: string | null;

  @Column({ name: 'secret_key_last4', type: 'text', nullable: true })
  secretKeyLast4!: string | null;

  @Column({ name: 'connected_at', type: 'timestamptz', nullable: true })
  connectedAt!: Date | null;

  @Column({ name: 'last_verified_at', type: 'timestamptz', nullable: true })
  lastVerifiedAt!: Date | null;

  @Column({ name: 'last_error_code', type: 'text', nullable: true })
  lastErrorCode!: string | null;

  @Column({ name: 'last_error_message', type: 'text', nullable: true })
  lastErrorMessage!: string | null;

  @Column({ name: 'last_error_at', type: 'timestamptz', nullable: true })
  lastErrorAt!: Date | null;

  /** The unguessable last segment of the tenant's webhook URL, which never changes once made. */
  @Column({ name: 'webhook_endpoint_token', type: 'text' })
  webhookEndpointToken!: string;

  /** The `we_…` id of the endpoint the service registered in the tenant's account. */
  @Column({ name: 'stripe_webhook_endpoint_id', type: 'text', nullable: true })
  stripeWebhookEndpointId!: string | null;

  @Column({ name: 'webhook_registration', type: 'text', nullable: true })
  webhookRegistration!: WebhookRegistration | null;

  /** Signing secret of the tenant's current endpoint, registered by the service or set by an operator. */
  @Column({ name: 'endpoint_secret_ciphertext', type: 'text', nullable: true })
  endpointSecretCiphertext!: string | null;

  @Column({ name: 'endpoint_secret_key_id', type: 'text', nullable: true })
  endpointSecretKeyId!: string | null;

  /** A replaced signing secret, kept 14 days after a disconnect and 24 hours after an operator set a new one. */
  @Column({ name: 'retired_endpoint_secret_ciphertext', type: 'text', nullable: true })
  retiredEndpointSecretCiphertext!: string | null;

  @Column({ name: 'retired_endpoint_secret_key_id', type: 'text', nullable: true })
  retiredEndpointSecretKeyId!: string | null;

  @Column({ name: 'retired_endpoint_secret_kept_until', type: 'timestamptz', nullable: true })
  retiredEndpointSecretKeptUntil!: Date | null;

  @Column({ name: 'disconnected_at', type: 'timestamptz', nullable: true })
  disconnectedAt!: Date | null;

  /** When the last verified webhook delivery for this tenant arrived. */
  @Column({ name: 'last_event_at', type: 'timestamptz', nullable: true })
  lastEventAt!: Date | null;

  /** Raised by every change, so cached Stripe clients of an older version are never used. */
  @Column({ type: 'integer' })
  version!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
