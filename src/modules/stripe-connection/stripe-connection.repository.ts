import { queryPrepared } from '@app/common/database/prepared-query';
import { callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import type { StripeMode } from '@app/common/keys/stripe-keys';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, QueryFailedError, Repository } from 'typeorm';
import { StripeConnectionEntity } from './stripe-connection.entity';
import { WebhookEndpointCache } from './webhook-endpoint.cache';
import { generateWebhookEndpointToken } from './webhook-endpoint-token';

/** The partial unique index that keeps one Stripe account (per mode) to one tenant. */
export const ACCOUNT_MODE_UNIQUE_INDEX = 'stripe_connections_account_mode_uniq';

/** The columns of a connection that a Stripe call on the tenant's behalf needs. */
export type ConnectionClientFields = Pick<
  StripeConnectionEntity,
  'id' | 'tenantId' | 'status' | 'mode' | 'accountId' | 'version' | 'secretKeyCiphertext' | 'secretKeyKeyId'
>;

/** The columns ConnectionClientFields are read from. */
const CLIENT_COLUMNS = ['id', 'status', 'mode', 'account_id', 'version', 'secret_key_ciphertext', 'secret_key_key_id'];

/** The client columns as read, in a row or in the json of clientFieldsJsonSql. */
export interface ClientFieldsRow {
  id: string;
  status: ConnectionClientFields['status'];
  mode: ConnectionClientFields['mode'];
  account_id: string | null;
  version: number;
  secret_key_ciphertext: string | null;
  secret_key_key_id: string | null;
}

/**
 * Returns a subquery of the client columns of tenant `tenantIdSql`'s connection as one json
 * object, null without a connection. Another module's statement reads them with its own rows.
 */
export function clientFieldsJsonSql(tenantIdSql: string): string {
  const pairs = CLIENT_COLUMNS.map((column) => `'${column}', connection.${column}`).join(', ');

  return `(SELECT json_build_object(${pairs}) FROM stripe_connections connection WHERE connection.tenant_id = ${tenantIdSql})`;
}

/** Turns a row of the client columns, or the json of clientFieldsJsonSql, into ConnectionClientFields. */
export function clientFieldsFromRow(tenantId: string, row: ClientFieldsRow | null): ConnectionClientFields | null {
  if (!row) {
    return null;
  }

  return {
    id: row.id,
    tenantId,
    status: row.status,
    mode: row.mode,
    accountId: row.account_id,
    version: row.version,
    secretKeyCiphertext: row.secret_key_ciphertext,
    secretKeyKeyId: row.secret_key_key_id,
  };
}

export type StripeConnectionChanges = Partial<
  Omit<StripeConnectionEntity, 'id' | 'tenantId' | 'webhookEndpointToken' | 'version' | 'createdAt' | 'updatedAt'>
>;

/**
 * Stripe connections, looked up by tenant. Every method takes the tenant id,
 * except the webhook token lookup, which is the one reviewed path that looks
 * across tenants before a tenant is known.
 */
@Injectable()
export class StripeConnectionRepository {
  constructor(
    @InjectRepository(StripeConnectionEntity)
    private readonly connections: Repository<StripeConnectionEntity>,
    private readonly endpointCache: WebhookEndpointCache,
  ) {}

  /**
   * Reads the columns a Stripe client needs. The facade's getClient calls it
   * on every payment request and before most other Stripe calls, so it is
   * plain SQL, which skips TypeORM's query building.
   */
  async findClientFieldsByTenant(tenantId: string): Promise<ConnectionClientFields | null> {
    const rows = await queryPrepared<ClientFieldsRow>(
      this.connections.manager.connection,
      `SELECT ${CLIENT_COLUMNS.join(', ')} FROM stripe_connections WHERE tenant_id = $1`,
      [tenantId],
      'stripe_connections_client_fields',
    );

    return clientFieldsFromRow(tenantId, rows[0] ?? null);
  }


  findByTenant(tenantId: string, manager?: EntityManager): Promise<StripeConnectionEntity | null> {
    const repository = manager ? manager.getRepository(StripeConnectionEntity) : this.connections;

    return repository.findOne({ where: { tenantId } });
  }

  /**
   * Return the tenant's row, creating it (status `not_connected`, with its
   * webhook endpoint token) on first use. Concurrent first calls create one row.
   */
  async ensureForTenant(tenantId: string): Promise<StripeConnectionEntity> {
    const existing = await this.findByTenant(tenantId);
    if (existing) {
      return existing;
    }

    await this.connections
      .createQueryBuilder()
      .insert()
      .values({ tenantId, status: 'not_connected', webhookEndpointToken: generateWebhookEndpointToken(), version: 1 })
      .orIgnore()
      .execute();

    return this.connections.findOneOrFail({ where: { tenantId } });
  }

  /** Read the tenant's row and hold a row lock until the transaction ends. */
  lockByTenant(manager: EntityManager, tenantId: string): Promise<StripeConnectionEntity | null> {
    return manager.getRepository(StripeConnectionEntity).findOne({ where: { tenantId }, lock: { mode: 'pessimistic_write' } });
  }

  /** Apply changes, raise the version and return the row as stored. The tenant's cached webhook token resolution is dropped. */
  async update(manager: EntityManager, connection: StripeConnectionEntity, changes: StripeConnectionChanges): Promise<StripeConnectionEntity> {
    this.endpointCache.invalidateTenant(connection.tenantId);
    const repository = manager.getRepository(StripeConnectionEntity);
    await repository
      .createQueryBuilder()
      .update()
      .set({ ...changes, version: () => 'version + 1' })
      .where('id = :id AND tenant_id = :tenantId', { id: connection.id, tenantId: connection.tenantId })
      .execute();

    return repository.findOneOrFail({ where: { id: connection.id, tenantId: connection.tenantId } });
  }

  /** Check whether another tenant has this Stripe account connected (or in error) in this mode. */
  /** Whether another tenant has stored keys of this Stripe account in this mode, through the reviewed function app_stripe_account_used_elsewhere. */
  async isAccountUsedByAnotherTenant(tenantId: string, accountId: string, mode: StripeMode): Promise<boolean> {
    const rows = await callCrossTenantFunction<{ result: boolean }>(this.connections.manager.connection, 'app_stripe_account_used_elsewhere', [tenantId, accountId, mode]);

    return rows[0].result;
  }

  /**
   * The tenant whose connection has this webhook endpoint token, through the
   * reviewed function app_webhook_endpoint_tenant: the token in the URL is
   * how a delivery finds its tenant.
   */
  async findTenantByWebhookEndpointToken(token: string): Promise<string | null> {
    const rows = await callCrossTenantFunction<{ result: string | null }>(this.connections.manager.connection, 'app_webhook_endpoint_tenant', [token]);

    return rows[0].result;
  }

  findByWebhookEndpointToken(tenantId: string, token: string): Promise<StripeConnectionEntity | null> {
    return this.connections.findOne({ where: { tenantId, webhookEndpointToken: token } });
  }

  /** Move `last_event_at` forward to `at`, so an older delivery never moves it back. The version stays. */
  async recordEventReceived(tenantId: string, at: Date): Promise<void> {
    await this.connections
      .createQueryBuilder()
      .update()
      .set({ lastEventAt: () => 'GREATEST(COALESCE(last_event_at, :at), :at)' })
      .where('tenant_id = :tenantId', { tenantId })
      .setParameter('at', at)
      .execute();
  }
}

/** Check whether a write failed on the one-account-per-mode index, which a concurrent connect can hit. */
export function isAccountInUseViolation(error: unknown): boolean {
  if (!(error instanceof QueryFailedError)) {
    return false;
  }

  const driverError = error.driverError as { code?: string; constraint?: string };

  return driverError.code === '23505' && driverError.constraint === ACCOUNT_MODE_UNIQUE_INDEX;
}
