import { DomainError } from '@app/common/errors/domain-error';
import { isStripeKeyRejected, mapStripeError } from '@app/common/stripe/stripe-error.mapper';
import {
  ConnectionView,
  StripeConnectionFacade,
  TenantStripeClient,
  WebhookEndpointResolution,
} from '@app/contracts/stripe-connection.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { StripeClientFactory } from './stripe-client.factory';
import { StripeConnectionEntity } from './stripe-connection.entity';
import { storedKeysInvalid, stripeNotConnected } from './stripe-connection.errors';
import { ClientFieldsRow, ConnectionClientFields, StripeConnectionRepository, clientFieldsFromRow, clientFieldsJsonSql } from './stripe-connection.repository';
import { toConnectionView } from './stripe-connection-state.reader';
import { StripeConnectionService } from './stripe-connection.service';
import { describeStripeError } from './webhook-endpoint.registrar';
import { WebhookEndpointService } from './webhook-endpoint.service';

/** The StripeConnection facade for the other contexts, bound to STRIPE_CONNECTION_FACADE. */
@Injectable()
export class StripeConnectionFacadeService implements StripeConnectionFacade {
  private readonly logger = new Logger(StripeConnectionFacadeService.name);

  constructor(
    private readonly clients: StripeClientFactory,
    private readonly connections: StripeConnectionService,
    private readonly endpoints: WebhookEndpointService,
    private readonly repository: StripeConnectionRepository,
  ) {}

  async getClient(tenantId: string): Promise<TenantStripeClient> {
    return this.clientFrom(await this.repository.findClientFieldsByTenant(tenantId));
  }

  clientFieldsSql(tenantIdSql: string): string {
    return clientFieldsJsonSql(tenantIdSql);
  }

  clientFromFields(tenantId: string, fields: unknown): TenantStripeClient {
    return this.clientFrom(clientFieldsFromRow(tenantId, fields as ClientFieldsRow | null));
  }

  private clientFrom(connection: ConnectionClientFields | null): TenantStripeClient {
    if (!connection || connection.status === 'not_connected') {
      throw stripeNotConnected();
    }
    if (connection.status === 'error') {
      throw storedKeysInvalid();
    }

    // The table's check constraint keeps both set while a connection stores keys.
    if (connection.mode === null || connection.accountId === null) {
      throw new Error(`Stripe connection ${connection.id} is connected without a mode or an account id`);
    }

    return { stripe: this.clients.forConnection(connection), mode: connection.mode, accountId: connection.accountId };
  }

  async getConnection(tenantId: string): Promise<ConnectionView> {
    const connection = await this.repository.findByTenant(tenantId);

    return toConnectionView(connection);
  }

  /**
   * Map an error a Stripe call raised. When Stripe rejected the key, the
   * stored key is checked once more (GET /v1/account), because the failing call
   * may have used a key replaced meanwhile. Unless the stored key passes that
   * check, the connection turns to `error`.
   */
  async translateStripeError(tenantId: string, error: unknown): Promise<Error> {
    if (error instanceof DomainError) {
      return error;
    }

    const mapped = mapStripeError(error);
    if (!isStripeKeyRejected(error)) {
      return mapped;
    }

    const connection = await this.repository.findByTenant(tenantId);
    if (!connection || connection.status === 'not_connected') {
      return stripeNotConnected();
    }
    if (connection.status === 'error') {
      return storedKeysInvalid();
    }

    if (await this.storedKeyWorks(connection)) {
      this.logger.warn({ tenantId, connectionId: connection.id }, 'Stripe rejected a key that is no longer stored, and the stored key works');

      return new DomainError('stripe_unavailable', 'The Stripe keys changed while this request ran. Retry the request.');
    }

    await this.connections.recordConnectionFailure(tenantId, mapped, 'stripe_call');

    return storedKeysInvalid();
  }

  async resolveWebhookEndpoint(endpointToken: string): Promise<WebhookEndpointResolution | null> {
    const resolved = await this.endpoints.resolve(endpointToken);
    if (!resolved) {
      return null;
    }

    return {
      tenantId: resolved.connection.tenantId,
      endpointSecrets: resolved.secrets,
      undecryptableSecrets: resolved.undecryptable,
      connection: toConnectionView(resolved.connection),
    };
  }

  async recordWebhookEventReceived(tenantId: string, at: Date): Promise<void> {
    await this.repository.recordEventReceived(tenantId, at);
  }

  private async storedKeyWorks(connection: StripeConnectionEntity): Promise<boolean> {
    try {
      await this.clients.forConnection(connection).accounts.retrieveCurrent();

      return true;
    } catch (error) {
      this.logger.debug({ tenantId: connection.tenantId, stripeError: describeStripeError(error) }, 'Stored Stripe key failed its check');

      return false;
    }
  }
}
