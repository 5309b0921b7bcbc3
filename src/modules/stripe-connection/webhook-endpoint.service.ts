import { RequestContext } from '@app/common/context/request-context';
import { SECRET_CIPHER, SecretCipher, SecretDecryptionError } from '@app/common/crypto/secret-cipher';
import { notFound } from '@app/common/errors/domain-error';
import { Clock } from '@app/common/time/clock';
import type { UndecryptableEndpointSecret } from '@app/contracts/stripe-connection.contracts';
import { TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { webhookUrlFor } from './billing-settings.mapper';
import { ResolvedEndpoint, WebhookEndpointCache } from './webhook-endpoint.cache';
import { endpointSecretAssociatedData } from './connection-secrets';
import { StripeClientFactory } from './stripe-client.factory';
import { StripeConnectionEntity } from './stripe-connection.entity';
import { StripeConnectionRepository } from './stripe-connection.repository';
import { HANDLED_STRIPE_EVENT_TYPES } from './stripe-webhook-events';
import { WebhookEndpointRegistrar } from './webhook-endpoint.registrar';
import { isWellFormedWebhookEndpointToken } from './webhook-endpoint-token';

/** How long the signing secret of a disconnected endpoint keeps verifying late deliveries. */
export const RETIRED_ENDPOINT_SECRET_DAYS = 14;
/**
 * How long a secret that an operator replaced keeps verifying: the 24 hours for
 * which Stripe signs with both secrets when an endpoint's secret is rolled. A
 * mistyped secret therefore leaves a working endpoint working for that long.
 */
export const REPLACED_ENDPOINT_SECRET_HOURS = 24;

export type { ResolvedEndpoint } from './webhook-endpoint.cache';

/**
 * The tenant's webhook endpoint: registering it in the tenant's Stripe
 * account, storing its signing secret, and resolving the URL's token back to
 * the tenant and its secrets when a delivery arrives.
 */
@Injectable()
export class WebhookEndpointService {
  private readonly logger = new Logger(WebhookEndpointService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SECRET_CIPHER) private readonly cipher: SecretCipher,
    @Inject(TENANCY_FACADE) private readonly tenancy: TenancyFacade,
    private readonly cache: WebhookEndpointCache,
    private readonly clients: StripeClientFactory,
    private readonly clock: Clock,
    private readonly dataSource: DataSource,
    private readonly registrar: WebhookEndpointRegistrar,
    private readonly repository: StripeConnectionRepository,
    private readonly context: RequestContext,
  ) {}

  /**
   * Register the endpoint in the connection's Stripe account and store the
   * outcome: `automatic` with the endpoint's signing secret, or `manual` when
   * Stripe rejected the request. Stripe errors become `manual`, so they never fail
   * the caller's connect or key edit (a database error still does).
   */
  async register(connection: StripeConnectionEntity): Promise<StripeConnectionEntity> {
    const stripe = this.clients.forConnection(connection);
    const url = webhookUrlFor(this.config.publicBaseUrl, connection.webhookEndpointToken);
    const outcome = await this.registrar.register(stripe, {
      tenantId: connection.tenantId,
      url,
      // The version changes with every connect and key edit, so a registration
      // after a disconnect never replays the response for a deleted endpoint.
      idempotencyKey: `stripe-connection-${connection.id}-v${connection.version}-webhook-endpoint`,
    });

    const stored = await this.dataSource.transaction(async (manager) => {
      const locked = await this.repository.lockByTenant(manager, connection.tenantId);
      if (!locked || locked.status === 'not_connected' || locked.accountId !== connection.accountId || locked.mode !== connection.mode) {
        return null;
      }

      const secret =
        outcome.registration === 'automatic' ? this.cipher.encrypt(outcome.secret, endpointSecretAssociatedData(connection.tenantId)) : null;
      const updated = await this.repository.update(
        manager,
        locked,
        outcome.registration === 'automatic' && secret
          ? {
              stripeWebhookEndpointId: outcome.endpointId,
              webhookRegistration: 'automatic',
              endpointSecretCiphertext: secret.ciphertext,
              endpointSecretKeyId: secret.keyId,
            }
          : { webhookRegistration: 'manual' },
      );
      await this.tenancy.recordAudit(
        {
          tenantId: connection.tenantId,
          action: 'stripe.webhook_registered',
          details: {
            registration: outcome.registration,
            url,
            stripeWebhookEndpointId: outcome.registration === 'automatic' ? outcome.endpointId : null,
            reason: outcome.registration === 'manual' ? outcome.reason : null,
            enabledEvents: [...HANDLED_STRIPE_EVENT_TYPES],
          },
        },
        manager,
      );

      return updated;
    });

    if (stored === null) {
      // The tenant disconnected (or switched accounts) while Stripe responded, so no connection uses the new endpoint.
      if (outcome.registration === 'automatic') {
        await this.registrar.delete(stripe, connection.tenantId, outcome.endpointId);
      }

      return (await this.repository.findByTenant(connection.tenantId)) ?? connection;
    }

    this.logger.log(
      { tenantId: connection.tenantId, connectionId: connection.id, registration: outcome.registration, stripeWebhookEndpointId: stored.stripeWebhookEndpointId },
      'Webhook endpoint registration recorded',
    );

    return stored;
  }

  /**
   * Register the endpoint after a key edit when the connection has none (the
   * old key could not register it, or a switch of mode removed it) or when the
   * registered one no longer exists in Stripe (deleted in the Dashboard).
   * Otherwise the connection keeps its endpoint and signing secret.
   */
  async registerIfNeeded(connection: StripeConnectionEntity): Promise<StripeConnectionEntity> {
    if (connection.stripeWebhookEndpointId === null) {
      return this.register(connection);
    }

    const stripe = this.clients.forConnection(connection);
    if (await this.registrar.exists(stripe, connection.tenantId, connection.stripeWebhookEndpointId)) {
      return connection;
    }

    this.logger.warn(
      { tenantId: connection.tenantId, connectionId: connection.id, stripeWebhookEndpointId: connection.stripeWebhookEndpointId },
      'The registered webhook endpoint no longer exists in Stripe; registering a new one',
    );

    return this.register(connection);
  }

  /** Delete an endpoint the service registered, best effort, with a client built before the key was destroyed. */
  async deleteInStripe(stripe: Stripe, tenantId: string, endpointId: string): Promise<void> {
    const deleted = await this.registrar.delete(stripe, tenantId, endpointId);
    if (deleted) {
      this.logger.log({ tenantId, stripeWebhookEndpointId: endpointId }, 'Deleted the webhook endpoint in Stripe');
    }
  }

  /**
   * Store the signing secret of an endpoint the tenant pasted by hand or rolled
   * in the Dashboard; an operator action. The secret it replaces keeps
   * verifying for 24 hours. A registered endpoint stays `automatic`: it is
   * still in the tenant's Stripe account, and the tenant has nothing to paste.
   */
  async setSecretByOperator(tenantId: string, secret: string): Promise<void> {
    const tenant = await this.tenancy.getTenant(tenantId);
    if (!tenant) {
      throw notFound('tenant');
    }

    await this.repository.ensureForTenant(tenantId);
    const retiredUntil = await this.dataSource.transaction(async (manager) => {
      const locked = await this.repository.lockByTenant(manager, tenantId);
      if (!locked) {
        throw notFound('tenant');
      }

      // Setting the current secret again (a retried request) must not push the
      // replaced secret out of the retired slot.
      const retired = this.isCurrentSecret(locked, secret) ? {} : this.retireCurrentSecret(locked, this.clock.now(), REPLACED_ENDPOINT_SECRET_HOURS * 60 * 60 * 1000);
      const encrypted = this.cipher.encrypt(secret, endpointSecretAssociatedData(tenantId));
      await this.repository.update(manager, locked, {
        ...retired,
        endpointSecretCiphertext: encrypted.ciphertext,
        endpointSecretKeyId: encrypted.keyId,
      });
      await this.tenancy.recordAudit(
        { tenantId, action: 'tenant.webhook_secret_set', details: { replacedEarlierSecret: locked.endpointSecretCiphertext !== null } },
        manager,
      );

      return retired.retiredEndpointSecretKeptUntil ?? null;
    });
    this.logger.log({ tenantId, replacedSecretKeptUntil: retiredUntil?.toISOString() ?? null }, 'Operator set the tenant endpoint signing secret');
  }

  /**
   * Find the tenant of a webhook URL's token and decrypt its endpoint secrets.
   * This is the one lookup that crosses tenants; it returns null for a token
   * that is malformed or unknown. Results are cached for a few seconds
   * (WebhookEndpointCache), because intake resolves the token of every delivery.
   */
  async resolve(token: string): Promise<ResolvedEndpoint | null> {
    if (!isWellFormedWebhookEndpointToken(token)) {
      return null;
    }

    const cached = this.cache.get(token);
    if (cached) {
      return cached;
    }

    const resolved = await this.read(token);
    if (resolved) {
      this.cache.set(token, resolved);
    }

    return resolved;
  }

  private async read(token: string): Promise<ResolvedEndpoint | null> {
    const tenantId = await this.repository.findTenantByWebhookEndpointToken(token);
    if (!tenantId) {
      return null;
    }

    const connection = await this.context.runAsTenant(tenantId, () => this.repository.findByWebhookEndpointToken(tenantId, token), this.context.correlationId);
    if (!connection) {
      return null;
    }

    const resolved: ResolvedEndpoint = { connection, secrets: [], undecryptable: [] };
    this.addDecrypted(resolved, 'current', connection.endpointSecretKeyId, connection.endpointSecretCiphertext);
    const keptUntil = connection.retiredEndpointSecretKeptUntil;
    if (keptUntil !== null && keptUntil > this.clock.now()) {
      this.addDecrypted(resolved, 'retired', connection.retiredEndpointSecretKeyId, connection.retiredEndpointSecretCiphertext);
    }

    return resolved;
  }

  /**
   * Build the column changes that move the current endpoint secret to the
   * retired slot for `keptForMs`. There is one retired slot, so a secret
   * already retired there stops verifying at once.
   */
  retireCurrentSecret(connection: StripeConnectionEntity, now: Date, keptForMs: number): Partial<StripeConnectionEntity> {
    if (connection.endpointSecretCiphertext === null) {
      return {};
    }

    return {
      endpointSecretCiphertext: null,
      endpointSecretKeyId: null,
      retiredEndpointSecretCiphertext: connection.endpointSecretCiphertext,
      retiredEndpointSecretKeyId: connection.endpointSecretKeyId,
      retiredEndpointSecretKeptUntil: new Date(now.getTime() + keptForMs),
    };
  }

  /** Check whether `secret` is the stored current secret; a secret that cannot be decrypted counts as different. */
  private isCurrentSecret(connection: StripeConnectionEntity, secret: string): boolean {
    if (connection.endpointSecretCiphertext === null || connection.endpointSecretKeyId === null) {
      return false;
    }

    try {
      const current = this.cipher.decrypt(
        { keyId: connection.endpointSecretKeyId, ciphertext: connection.endpointSecretCiphertext },
        endpointSecretAssociatedData(connection.tenantId),
      );

      return current === secret;
    } catch {
      return false;
    }
  }

  /**
   * Decrypt a stored secret into `resolved.secrets`, or record it as undecryptable. Intake logs
   * each delivery it then rejects with 503 as an error, so this is only a warning. It runs when a
   * token is resolved, which WebhookEndpointCache keeps for 5 seconds.
   */
  private addDecrypted(resolved: ResolvedEndpoint, slot: UndecryptableEndpointSecret['slot'], keyId: string | null, ciphertext: string | null): void {
    if (keyId === null || ciphertext === null) {
      return;
    }

    const { connection } = resolved;
    try {
      resolved.secrets.push(this.cipher.decrypt({ keyId, ciphertext }, endpointSecretAssociatedData(connection.tenantId)));
    } catch (error) {
      // A truncated ciphertext makes node:crypto throw before the authentication check.
      const reason = error instanceof SecretDecryptionError ? error.reason : 'authentication_failed';
      resolved.undecryptable.push({ slot, encryptionKeyId: keyId, reason });
      this.logger.warn(
        { tenantId: connection.tenantId, connectionId: connection.id, slot, encryptionKeyId: keyId, reason, err: { name: (error as Error).name, message: (error as Error).message } },
        'Could not decrypt a stored webhook endpoint signing secret',
      );
    }
  }
}
