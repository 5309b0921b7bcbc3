import { SECRET_CIPHER, SecretCipher } from '@app/common/crypto/secret-cipher';
import { DomainError } from '@app/common/errors/domain-error';
import { maskStripeKey } from '@app/common/keys/stripe-keys';
import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { isStripeError, isStripeTransient, mapStripeError } from '@app/common/stripe/stripe-error.mapper';
import { Clock } from '@app/common/time/clock';
import {
  StripeConnectedEvent,
  StripeConnectionFailedEvent,
  StripeConnectionRestoredEvent,
  StripeDisconnectedEvent,
  StripeKeysRotatedEvent,
} from '@app/contracts/stripe-connection.contracts';
import { TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import Stripe from 'stripe';
import { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { maskStoredSecretKey, toBillingSettings } from './billing-settings.mapper';
import { secretKeyAssociatedData } from './connection-secrets';
import { BillingSettingsDto } from './dto/billing-settings.dto';
import { StripeKeysDto } from './dto/stripe-keys.dto';
import { StripeClientFactory } from './stripe-client.factory';
import { StripeConnectionEntity } from './stripe-connection.entity';
import {
  accountInUse,
  accountMismatch,
  alreadyConnected,
  liveModeNotAllowed,
  modeMismatch,
  stripeNotConnected,
} from './stripe-connection.errors';
import { isAccountInUseViolation, StripeConnectionChanges, StripeConnectionRepository } from './stripe-connection.repository';
import { ParsedKeyPair, parseKeyPair } from './stripe-key-format';
import { describeStripeError } from './webhook-endpoint.registrar';
import { RETIRED_ENDPOINT_SECRET_DAYS, WebhookEndpointService } from './webhook-endpoint.service';

/** The cause of a connection failure: the verify route, or a Stripe call another context made. */
export type ConnectionFailureSource = 'verify' | 'stripe_call';

/**
 * The Settings → Billing use cases: connect, edit keys, verify and disconnect
 * a tenant's own Stripe account. Checks run in the order the HTTP contract
 * gives for each route.
 */
@Injectable()
export class StripeConnectionService {
  private readonly logger = new Logger(StripeConnectionService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SECRET_CIPHER) private readonly cipher: SecretCipher,
    @Inject(TENANCY_FACADE) private readonly tenancy: TenancyFacade,
    private readonly clients: StripeClientFactory,
    private readonly clock: Clock,
    private readonly dataSource: DataSource,
    private readonly endpoints: WebhookEndpointService,
    private readonly outbox: OutboxWriter,
    private readonly repository: StripeConnectionRepository,
  ) {}

  async getSettings(tenantId: string): Promise<BillingSettingsDto> {
    const connection = await this.repository.ensureForTenant(tenantId);

    return this.toSettings(connection);
  }

  async connect(tenantId: string, keys: StripeKeysDto): Promise<BillingSettingsDto> {
    const pair = parseKeyPair(keys.publishableKey, keys.secretKey);
    await this.assertModeAllowed(tenantId, pair);

    const current = await this.repository.ensureForTenant(tenantId);
    if (current.status !== 'not_connected') {
      throw alreadyConnected(current.status);
    }

    const account = await this.retrieveAccount(this.clients.forSubmittedKey(keys.secretKey), tenantId);
    if (await this.repository.isAccountUsedByAnotherTenant(tenantId, account.id, pair.secret.mode)) {
      throw accountInUse();
    }

    const connection = await this.writeMappingAccountInUse(async (manager) => {
      const locked = await this.lockOrFail(manager, tenantId);
      if (locked.status !== 'not_connected') {
        throw alreadyConnected(locked.status);
      }

      const now = this.clock.now();
      const updated = await this.repository.update(manager, locked, {
        ...this.keyColumns(tenantId, keys, pair),
        status: 'connected',
        accountId: account.id,
        connectedAt: now,
        lastVerifiedAt: now,
        ...NO_LAST_ERROR,
        disconnectedAt: null,
        stripeWebhookEndpointId: null,
        webhookRegistration: null,
        // The previous connection may have been to another account, so its last event does not carry over.
        // NOTE: An event received before this connect but processed after it still sets the time.
        lastEventAt: null,
      });
      await this.tenancy.recordAudit(
        { tenantId, action: 'stripe.connected', details: { accountId: account.id, mode: pair.secret.mode, ...maskedKeys(keys) } },
        manager,
      );
      await this.outbox.append(
        manager,
        new StripeConnectedEvent(tenantId, updated.id, { accountId: account.id, mode: pair.secret.mode }, now.toISOString()),
      );

      return updated;
    });
    this.logger.log({ tenantId, connectionId: connection.id, accountId: account.id, mode: connection.mode }, 'Stripe connected');

    return this.toSettings(await this.endpoints.register(connection));
  }

  async rotateKeys(tenantId: string, keys: StripeKeysDto): Promise<BillingSettingsDto> {
    const pair = parseKeyPair(keys.publishableKey, keys.secretKey);
    const current = await this.repository.findByTenant(tenantId);
    if (!current || current.status === 'not_connected') {
      throw stripeNotConnected();
    }

    await this.assertModeAllowed(tenantId, pair);
    const account = await this.retrieveAccount(this.clients.forSubmittedKey(keys.secretKey), tenantId);
    if (account.id !== current.accountId) {
      throw accountMismatch();
    }

    const mode = pair.secret.mode;
    const modeChanged = mode !== current.mode;
    if (modeChanged && (await this.repository.isAccountUsedByAnotherTenant(tenantId, account.id, mode))) {
      throw accountInUse();
    }

    // Webhook endpoints belong to one mode, so a switch between test and live
    // replaces the endpoint, and the old one is deleted with the old key.
    const replacedEndpoint = modeChanged ? this.registeredEndpointOf(current) : null;

    const connection = await this.writeMappingAccountInUse(async (manager) => {
      const locked = await this.lockOrFail(manager, tenantId);
      if (locked.status === 'not_connected') {
        throw stripeNotConnected();
      }
      if (locked.accountId !== account.id) {
        throw accountMismatch();
      }

      const now = this.clock.now();
      const updated = await this.repository.update(manager, locked, {
        ...this.keyColumns(tenantId, keys, pair),
        status: 'connected',
        lastVerifiedAt: now,
        ...NO_LAST_ERROR,
        ...(replacedEndpoint
          ? { stripeWebhookEndpointId: null, webhookRegistration: null, endpointSecretCiphertext: null, endpointSecretKeyId: null }
          : {}),
      });
      await this.tenancy.recordAudit(
        {
          tenantId,
          action: 'stripe.keys_rotated',
          details: {
            accountId: account.id,
            mode,
            previousMode: locked.mode,
            previousStatus: locked.status,
            previousSecretKey: maskedStoredKey(locked),
            ...maskedKeys(keys),
          },
        },
        manager,
      );
      await this.outbox.append(manager, new StripeKeysRotatedEvent(tenantId, updated.id, { accountId: account.id, mode }, now.toISOString()));

      return updated;
    });
    this.logger.log({ tenantId, connectionId: connection.id, accountId: account.id, mode, modeChanged }, 'Stripe keys rotated');

    if (replacedEndpoint) {
      await this.endpoints.deleteInStripe(replacedEndpoint.stripe, tenantId, replacedEndpoint.id);
    }
    const registered = await this.endpoints.registerIfNeeded(connection);

    return this.toSettings(registered);
  }

  /**
   * Call Stripe with the stored key. A key Stripe rejects turns the connection
   * to `error`, and the route still returns 200. When Stripe cannot be reached,
   * the route returns 502 and nothing changes.
   */
  async verify(tenantId: string): Promise<BillingSettingsDto> {
    const current = await this.repository.findByTenant(tenantId);
    if (!current || current.status === 'not_connected') {
      throw stripeNotConnected();
    }

    try {
      await this.clients.forConnection(current).accounts.retrieveCurrent();
    } catch (error) {
      // The stored key cannot be decrypted here. The client factory logged why.
      if (error instanceof DomainError) {
        throw error;
      }

      const mapped = mapStripeError(error);
      if (!isStripeError(error) || isStripeTransient(error) || !isConnectionFailure(mapped)) {
        this.logger.warn({ tenantId, connectionId: current.id, stripeError: describeStripeError(error) }, 'Stripe could not verify the connection');
        throw mapped;
      }

      const failed = await this.recordConnectionFailure(tenantId, mapped, 'verify');

      return this.toSettings(failed ?? current);
    }

    const verified = await this.dataSource.transaction(async (manager) => {
      const locked = await this.lockOrFail(manager, tenantId);
      if (locked.status === 'not_connected') {
        throw stripeNotConnected();
      }
      // The keys were edited while Stripe responded, so the result is about keys no longer stored.
      if (locked.version !== current.version) {
        return locked;
      }

      const now = this.clock.now();
      const updated = await this.repository.update(manager, locked, { status: 'connected', lastVerifiedAt: now, ...NO_LAST_ERROR });
      if (locked.status === 'error') {
        await this.outbox.append(manager, buildRestoredEvent(updated, now));
      }

      return updated;
    });
    if (current.status === 'error' && verified.status === 'connected') {
      this.logger.log({ tenantId, connectionId: current.id }, 'Stripe keys work again, so the connection is restored');
    }

    return this.toSettings(verified);
  }

  /** Disconnect: destroy the stored key, keep the endpoint's signing secret 14 days, delete the endpoint in Stripe. */
  async disconnect(tenantId: string): Promise<void> {
    const current = await this.repository.findByTenant(tenantId);
    if (!current || current.status === 'not_connected') {
      return;
    }

    const registeredEndpoint = this.registeredEndpointOf(current);

    const disconnected = await this.dataSource.transaction(async (manager) => {
      const locked = await this.lockOrFail(manager, tenantId);
      if (locked.status === 'not_connected') {
        return null;
      }

      const now = this.clock.now();
      const updated = await this.repository.update(manager, locked, {
        ...this.endpoints.retireCurrentSecret(locked, now, RETIRED_ENDPOINT_SECRET_DAYS * 24 * 60 * 60 * 1000),
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
        ...NO_LAST_ERROR,
        stripeWebhookEndpointId: null,
        webhookRegistration: null,
        disconnectedAt: now,
      });
      await this.tenancy.recordAudit(
        {
          tenantId,
          action: 'stripe.disconnected',
          details: { accountId: locked.accountId, mode: locked.mode, secretKey: maskedStoredKey(locked), stripeWebhookEndpointId: locked.stripeWebhookEndpointId },
        },
        manager,
      );
      await this.outbox.append(manager, new StripeDisconnectedEvent(tenantId, locked.id, { accountId: locked.accountId }, now.toISOString()));

      return updated;
    });
    this.clients.forget(tenantId);
    if (!disconnected) {
      return;
    }

    this.logger.log({ tenantId, connectionId: disconnected.id, accountId: current.accountId }, 'Stripe disconnected');
    if (registeredEndpoint) {
      await this.endpoints.deleteInStripe(registeredEndpoint.stripe, tenantId, registeredEndpoint.id);
    }
  }

  /**
   * Turn a connection to `error` because Stripe rejected its key (or, on
   * verify, a permission the connection needs). The event and the audit entry
   * are written on the change from `connected`, and an explicit verify is audited
   * every time. Returns the stored row, or null when there is no connection.
   */
  async recordConnectionFailure(tenantId: string, failure: DomainError, source: ConnectionFailureSource): Promise<StripeConnectionEntity | null> {
    const result = await this.dataSource.transaction(async (manager) => {
      const locked = await this.repository.lockByTenant(manager, tenantId);
      if (!locked || locked.status === 'not_connected') {
        return null;
      }

      const now = this.clock.now();
      const wasConnected = locked.status === 'connected';
      const updated = await this.repository.update(manager, locked, {
        status: 'error',
        lastErrorCode: failure.code,
        lastErrorMessage: failure.message,
        lastErrorAt: now,
      });
      if (wasConnected || source === 'verify') {
        await this.tenancy.recordAudit(
          { tenantId, action: 'stripe.verify_failed', details: { code: failure.code, source, accountId: locked.accountId, secretKey: maskedStoredKey(locked) } },
          manager,
        );
      }
      if (wasConnected) {
        await this.outbox.append(
          manager,
          new StripeConnectionFailedEvent(tenantId, locked.id, { accountId: locked.accountId, code: failure.code }, now.toISOString()),
        );
      }

      return { updated, wasConnected };
    });
    if (result?.wasConnected) {
      this.logger.warn({ tenantId, connectionId: result.updated.id, code: failure.code, source }, 'Stripe rejected the stored key, so the connection is now in error');
    }

    return result?.updated ?? null;
  }

  /**
   * The endpoint the service registered with the stored key, and a client to
   * delete it. Null when there is none, or when the stored key cannot be
   * decrypted: then the endpoint stays in Stripe, so that editing keys and
   * disconnecting still work as the way out.
   */
  private registeredEndpointOf(connection: StripeConnectionEntity): { id: string; stripe: Stripe } | null {
    if (connection.stripeWebhookEndpointId === null) {
      return null;
    }

    try {
      return { id: connection.stripeWebhookEndpointId, stripe: this.clients.forConnection(connection) };
    } catch (error) {
      if (error instanceof DomainError) {
        return null;
      }
      throw error;
    }
  }

  private async toSettings(connection: StripeConnectionEntity): Promise<BillingSettingsDto> {
    const tenant = await this.tenancy.getTenant(connection.tenantId);

    return toBillingSettings(connection, {
      publicBaseUrl: this.config.publicBaseUrl,
      liveModeAllowed: tenant?.liveModeAllowed ?? false,
      now: this.clock.now(),
    });
  }

  private async assertModeAllowed(tenantId: string, pair: ParsedKeyPair): Promise<void> {
    if (pair.publishable.mode !== pair.secret.mode) {
      throw modeMismatch();
    }

    if (pair.secret.mode === 'live') {
      const tenant = await this.tenancy.getTenant(tenantId);
      if (!tenant?.liveModeAllowed) {
        throw liveModeNotAllowed();
      }
    }
  }

  /** Check a submitted key against Stripe (GET /v1/account) and return its account. */
  private async retrieveAccount(stripe: Stripe, tenantId: string): Promise<Stripe.Account> {
    try {
      return await stripe.accounts.retrieveCurrent();
    } catch (error) {
      this.logger.warn({ tenantId, stripeError: describeStripeError(error) }, 'Checking the submitted secret key against Stripe failed');
      throw mapStripeError(error, 'secretKey');
    }
  }

  private keyColumns(tenantId: string, keys: StripeKeysDto, pair: ParsedKeyPair): StripeConnectionChanges {
    const encrypted = this.cipher.encrypt(keys.secretKey, secretKeyAssociatedData(tenantId));

    return {
      mode: pair.secret.mode,
      publishableKey: keys.publishableKey,
      secretKeyCiphertext: encrypted.ciphertext,
      secretKeyKeyId: encrypted.keyId,
      secretKeyPrefix: pair.secret.prefix,
      secretKeyLast4: keys.secretKey.slice(-4),
    };
  }

  private async lockOrFail(manager: EntityManager, tenantId: string): Promise<StripeConnectionEntity> {
    const locked = await this.repository.lockByTenant(manager, tenantId);
    if (!locked) {
      throw stripeNotConnected();
    }

    return locked;
  }

  /** Run a write in a transaction. A concurrent connect of the same account by another tenant surfaces as 409 stripe_account_in_use. */
  private async writeMappingAccountInUse<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.dataSource.transaction(work);
    } catch (error) {
      if (isAccountInUseViolation(error)) {
        throw accountInUse();
      }

      throw error;
    }
  }
}

const NO_LAST_ERROR = { lastErrorCode: null, lastErrorMessage: null, lastErrorAt: null } as const;

function buildRestoredEvent(connection: StripeConnectionEntity, now: Date): StripeConnectionRestoredEvent {
  // The table's check constraint keeps both set while a connection stores keys.
  if (connection.accountId === null || connection.mode === null) {
    throw new Error(`Stripe connection ${connection.id} is connected without a mode or an account id`);
  }

  return new StripeConnectionRestoredEvent(connection.tenantId, connection.id, { accountId: connection.accountId, mode: connection.mode }, now.toISOString());
}

function isConnectionFailure(error: DomainError): boolean {
  return error.code === 'stripe_keys_invalid' || error.code === 'stripe_permission_missing';
}

function maskedKeys(keys: StripeKeysDto): { publishableKey: string; secretKey: string } {
  return { publishableKey: maskStripeKey(keys.publishableKey), secretKey: maskStripeKey(keys.secretKey) };
}

function maskedStoredKey(connection: StripeConnectionEntity): string | null {
  if (connection.secretKeyPrefix === null || connection.secretKeyLast4 === null) {
    return null;
  }

  return maskStoredSecretKey(connection.secretKeyPrefix, connection.secretKeyLast4);
}
