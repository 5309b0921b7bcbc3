import { SECRET_CIPHER, SecretCipher, SecretDecryptionError } from '@app/common/crypto/secret-cipher';
import { Inject, Injectable, Logger } from '@nestjs/common';
import Stripe from 'stripe';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { secretKeyAssociatedData } from './connection-secrets';
import { StripeConnectionEntity } from './stripe-connection.entity';
import { storedKeyUndecryptable } from './stripe-connection.errors';
import { instrumentStripeClient } from '@app/common/metrics/stripe-client.metrics';

/**
 * Automatic retries of one Stripe call after a network failure, 409 or 5xx
 * (stripe-node retries with backoff and reuses the idempotency key). One retry
 * keeps a request that Stripe cannot serve under two timeouts.
 */
export const STRIPE_MAX_NETWORK_RETRIES = 1;

/** Maximum number of tenants whose clients are cached. The oldest entry is dropped first. */
const MAX_CACHED_CLIENTS = 1_000;

/** The columns of a stored connection that building its client reads. */
export type ConnectionKeyFields = Pick<StripeConnectionEntity, 'id' | 'tenantId' | 'version' | 'secretKeyCiphertext' | 'secretKeyKeyId'>;

interface CachedClient {
  version: number;
  stripe: Stripe;
}

/**
 * Builds Stripe clients: for a key a tenant just submitted, and for a stored
 * connection. Stored keys are decrypted here and nowhere else. Clients are
 * cached per tenant under the row's version, which every change raises, so a
 * rotation or disconnect takes effect on the next call.
 */
@Injectable()
export class StripeClientFactory {
  private readonly logger = new Logger(StripeClientFactory.name);
  private readonly cache = new Map<string, CachedClient>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SECRET_CIPHER) private readonly cipher: SecretCipher,
  ) {}

  /** Build a client for a key that is not stored yet: the key a connect or edit-keys request submitted. */
  forSubmittedKey(secretKey: string): Stripe {
    return this.build(secretKey);
  }

  /** Return the client of a stored connection with a key (connected or in error), from the cache when current. */
  forConnection(connection: ConnectionKeyFields): Stripe {
    const cached = this.cache.get(connection.tenantId);
    if (cached && cached.version === connection.version) {
      return cached.stripe;
    }

    if (connection.secretKeyCiphertext === null || connection.secretKeyKeyId === null) {
      throw new Error(`Stripe connection ${connection.id} holds no secret key`);
    }

    const secretKey = this.decryptSecretKey(connection, connection.secretKeyKeyId, connection.secretKeyCiphertext);
    const stripe = this.build(secretKey);
    this.remember(connection.tenantId, { version: connection.version, stripe });

    return stripe;
  }

  /**
   * Decrypt the stored key, or raise `stripe_keys_invalid` when this process
   * cannot. The connection keeps its status, because Stripe never rejected the
   * key and a key missing from this process's APP_ENCRYPTION_KEY is a deployment
   * fault that other processes, or a restart with the key restored, do not have.
   */
  private decryptSecretKey(connection: ConnectionKeyFields, keyId: string, ciphertext: string): string {
    try {
      return this.cipher.decrypt({ keyId, ciphertext }, secretKeyAssociatedData(connection.tenantId));
    } catch (error) {
      if (!(error instanceof SecretDecryptionError)) {
        throw error;
      }

      this.logger.error(
        { tenantId: connection.tenantId, connectionId: connection.id, encryptionKeyId: keyId, reason: error.reason, err: { name: error.name, message: error.message } },
        'Could not decrypt the stored Stripe secret key; restore its encryption key to APP_ENCRYPTION_KEY or have the tenant enter the keys again',
      );
      throw storedKeyUndecryptable();
    }
  }

  /** Drop a tenant's cached client, so its key leaves memory after a disconnect. */
  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  private remember(tenantId: string, entry: CachedClient): void {
    this.cache.delete(tenantId);
    this.cache.set(tenantId, entry);
    if (this.cache.size > MAX_CACHED_CLIENTS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) {
        this.cache.delete(oldest);
      }
    }
  }

  private build(secretKey: string): Stripe {
    const base = this.config.stripeApiBase;
    const target = base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'https:' ? 443 : 80),
          protocol: base.protocol === 'https:' ? ('https' as const) : ('http' as const),
        }
      : {};

    const client = new Stripe(secretKey, {
      apiVersion: Stripe.API_VERSION,
      timeout: this.config.stripeTimeoutMs,
      maxNetworkRetries: STRIPE_MAX_NETWORK_RETRIES,
      telemetry: false,
      appInfo: { name: 'billing-service' },
      ...target,
    });

    return instrumentStripeClient(client, { timeoutMs: this.config.stripeTimeoutMs });
  }
}
