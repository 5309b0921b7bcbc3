import { callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import type { Role } from '@app/common/roles/roles';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { ApiTokenEntity } from './api-token.entity';
import { Page, PageRequest, fetchFunctionPage, fetchPage } from './keyset-page';
import { isUuid } from './tenant-validation';

/** last_used_at is written at most this often per token, so busy tokens do not write on every request. */
const LAST_USED_RESOLUTION_SECONDS = 60;

export interface AuthenticatedToken {
  id: string;
  tenantId: string | null;
  role: Role;
  label: string;
}

/** A row of app_list_api_tokens. */
interface TokenRow {
  id: string;
  tenant_id: string | null;
  role: Role;
  label: string;
  last_used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
  keyset_time: string;
}

/** The row app_revoke_operator_token returns. */
export interface OperatorTokenRevocation {
  id: string;
  role: Role;
  label: string;
  /** True when this call revoked the token, false when it was revoked before. */
  revoked: boolean;
  revokedAt: Date;
}

@Injectable()
export class ApiTokensRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(manager: EntityManager, token: { tenantId: string | null; role: Role; label: string; tokenHash: string }): Promise<ApiTokenEntity> {
    const repository = manager.getRepository(ApiTokenEntity);
    const saved = await repository.save(repository.create({ ...token, lastUsedAt: null, revokedAt: null }));
    delete (saved as Partial<ApiTokenEntity>).tokenHash;

    return saved;
  }

  /**
   * Finds the unrevoked token with this digest, in any tenant, and records its
   * use unless one was recorded within the last minute. This is how a bearer
   * request finds its tenant, so it runs through the reviewed function
   * app_authenticate_api_token rather than a query of its own.
   */
  async authenticate(tokenHash: string, now: Date): Promise<AuthenticatedToken | null> {
    const rows = await callCrossTenantFunction<{ id: string; tenant_id: string | null; role: Role; label: string }>(this.dataSource, 'app_authenticate_api_token', [
      tokenHash,
      now,
      LAST_USED_RESOLUTION_SECONDS,
    ]);
    if (rows.length === 0) {
      return null;
    }

    return { id: rows[0].id, tenantId: rows[0].tenant_id, role: rows[0].role, label: rows[0].label };
  }

  /**
   * The tenant of the token with this id, through the SECURITY DEFINER
   * function app_api_token_tenant. Null for an unknown id, for an id that is
   * not a UUID, and for an operator token, which has no tenant.
   */
  async findTenantId(id: string): Promise<string | null> {
    if (!isUuid(id)) {
      return null;
    }

    const [row] = await callCrossTenantFunction<{ result: string | null }>(this.dataSource, 'app_api_token_tenant', [id]);

    return row?.result ?? null;
  }

  async findById(id: string, manager?: EntityManager): Promise<ApiTokenEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return this.repository(manager).findOneBy({ id });
  }

  /** Finds the token and locks its row until the caller's transaction ends, so two revocations cannot both see it unrevoked. */
  async findByIdForUpdate(id: string, manager: EntityManager): Promise<ApiTokenEntity | null> {
    if (!isUuid(id)) {
      return null;
    }

    return this.repository(manager).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /**
   * Creates an operator token, which has no tenant, inside the caller's
   * transaction through the function app_create_operator_token.
   */
  async insertOperatorToken(manager: EntityManager, token: { label: string; tokenHash: string }): Promise<ApiTokenEntity> {
    const [row]: { id: string; created_at: Date }[] = await manager.query('SELECT id, created_at FROM app_create_operator_token($1, $2)', [
      token.tokenHash,
      token.label,
    ]);

    return this.repository(manager).create({ id: row.id, tenantId: null, role: 'operator', label: token.label, lastUsedAt: null, revokedAt: null, createdAt: row.created_at });
  }

  /**
   * Revokes an operator token inside the caller's transaction through the
   * function app_revoke_operator_token. Returns null when no operator token
   * has this id, and otherwise whether this call revoked it and when the
   * token was revoked.
   */
  async revokeOperatorToken(manager: EntityManager, id: string, at: Date): Promise<OperatorTokenRevocation | null> {
    if (!isUuid(id)) {
      return null;
    }

    const rows: OperatorTokenRevocation[] = await manager.query(
      'SELECT id, role, label, revoked, revoked_at AS "revokedAt" FROM app_revoke_operator_token($1, $2)',
      [id, at],
    );

    return rows[0] ?? null;
  }

  async revoke(manager: EntityManager, id: string, at: Date): Promise<void> {
    await manager.query(`UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, [id, at]);
  }

  /** Lists one tenant's tokens, newest first. */
  list(tenantId: string, page: PageRequest): Promise<Page<ApiTokenEntity>> {
    const query = this.repository().createQueryBuilder('token').where('token.tenant_id = :tenantId', { tenantId });

    return fetchPage(query, 'token', 'created_at', page);
  }

  /**
   * Lists every token, operator tokens included, newest first, through the
   * SECURITY DEFINER function app_list_api_tokens.
   */
  listAcrossTenants(page: PageRequest): Promise<Page<ApiTokenEntity>> {
    return fetchFunctionPage(this.dataSource, 'app_list_api_tokens', page, (row: TokenRow) =>
      this.repository().create({
        id: row.id,
        tenantId: row.tenant_id,
        role: row.role,
        label: row.label,
        lastUsedAt: row.last_used_at,
        revokedAt: row.revoked_at,
        createdAt: row.created_at,
      }),
    );
  }

  private repository(manager?: EntityManager): Repository<ApiTokenEntity> {
    return (manager ?? this.dataSource.manager).getRepository(ApiTokenEntity);
  }
}
