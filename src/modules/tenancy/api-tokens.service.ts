import { RequestContext } from '@app/common/context/request-context';
import { FieldError } from '@app/common/errors/domain-error';
import { Role, TENANT_ROLES } from '@app/common/roles/roles';
import { CreateTokenInput, CreatedToken, TokenRevocation } from '@app/contracts/tenancy.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ApiTokensRepository } from './api-tokens.repository';
import { AuditLogService } from './audit-log.service';
import { Page, PageRequest } from './keyset-page';
import { generateApiToken, hashSecretToken } from './secret-tokens';
import { LABEL_MAX_LENGTH, checkName, isUuid } from './tenant-validation';
import { TenantsRepository } from './tenants.repository';
import { assertValid, tenantNotFound, tokenNotFound } from './tenancy.errors';
import { TokenBody, toTokenBody } from './tenancy.mappers';

const TOKEN_ROLES: readonly Role[] = [...TENANT_ROLES, 'operator'];

/**
 * API tokens: created by operators, shown once, stored as SHA-256 digests,
 * revocable. A tenant's token is created, listed and revoked in its tenant.
 * An operator token has no tenant, so it is created and revoked through
 * SECURITY DEFINER functions.
 */
@Injectable()
export class ApiTokensService {
  private readonly logger = new Logger(ApiTokensService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly tokens: ApiTokensRepository,
    private readonly tenants: TenantsRepository,
    private readonly auditLog: AuditLogService,
    private readonly context: RequestContext,
  ) {}

  async create(input: CreateTokenInput): Promise<CreatedToken> {
    const label = input.label.trim();
    assertValid([...checkTokenRole(input), ...checkName(label, 'label', LABEL_MAX_LENGTH)]);

    const tenantId = input.tenantId;
    if (tenantId === null) {
      return this.createToken(null, input.role, label);
    }
    if (!isUuid(tenantId)) {
      throw tenantNotFound();
    }

    return this.context.runInTenant(tenantId, async () => {
      if (!(await this.tenants.findById(tenantId))) {
        throw tenantNotFound();
      }

      return this.createToken(tenantId, input.role, label);
    });
  }

  private async createToken(tenantId: string | null, role: Role, label: string): Promise<CreatedToken> {
    const token = generateApiToken();
    const tokenHash = hashSecretToken(token);
    const saved = await this.dataSource.transaction(async (manager) => {
      const row = tenantId === null
        ? await this.tokens.insertOperatorToken(manager, { label, tokenHash })
        : await this.tokens.insert(manager, { tenantId, role, label, tokenHash });
      await this.auditLog.record(
        { tenantId: row.tenantId, action: 'token.created', details: { tokenId: row.id, role: row.role, label } },
        manager,
      );

      return row;
    });
    this.logger.log({ tenantId: saved.tenantId, tokenId: saved.id, role: saved.role }, 'API token created');

    return { id: saved.id, token, role: saved.role, tenantId: saved.tenantId, label, createdAt: saved.createdAt.toISOString() };
  }

  /**
   * Lists one tenant's tokens, in that tenant, when `tenantId` is given, else
   * every token, operator tokens included, through a SECURITY DEFINER
   * function. Newest first.
   */
  async list(filter: { tenantId?: string }, page: PageRequest): Promise<Page<TokenBody>> {
    const tenantId = filter.tenantId;
    const result = tenantId === undefined
      ? await this.tokens.listAcrossTenants(page)
      : await this.context.runInTenant(tenantId, () => this.tokens.list(tenantId, page));

    return { data: result.data.map(toTokenBody), nextCursor: result.nextCursor };
  }

  /**
   * Revoke a token, in its tenant or, for an operator token, through a
   * SECURITY DEFINER function. Revoking one that is already revoked changes
   * nothing and writes no audit entry. The result then has `alreadyRevoked`
   * set and the time of the first revocation.
   */
  async revoke(tokenId: string): Promise<TokenRevocation> {
    const tenantId = await this.tokens.findTenantId(tokenId);
    if (tenantId === null) {
      return this.revokeOperatorToken(tokenId);
    }

    return this.context.runInTenant(tenantId, () => this.revokeTenantToken(tokenId));
  }

  private revokeTenantToken(tokenId: string): Promise<TokenRevocation> {
    return this.dataSource.transaction(async (manager) => {
      const token = await this.tokens.findByIdForUpdate(tokenId, manager);
      if (!token) {
        throw tokenNotFound();
      }
      if (token.revokedAt) {
        return { alreadyRevoked: true, revokedAt: token.revokedAt.toISOString() };
      }

      const revokedAt = new Date();
      await this.tokens.revoke(manager, token.id, revokedAt);
      await this.auditLog.record(
        { tenantId: token.tenantId, action: 'token.revoked', details: { tokenId: token.id, role: token.role, label: token.label } },
        manager,
      );
      this.logger.log({ tenantId: token.tenantId, tokenId: token.id }, 'API token revoked');

      return { alreadyRevoked: false, revokedAt: revokedAt.toISOString() };
    });
  }

  /** Revokes an operator token; an id that names no operator token is a 404. */
  private revokeOperatorToken(tokenId: string): Promise<TokenRevocation> {
    return this.dataSource.transaction(async (manager) => {
      const token = await this.tokens.revokeOperatorToken(manager, tokenId, new Date());
      if (!token) {
        throw tokenNotFound();
      }
      if (!token.revoked) {
        return { alreadyRevoked: true, revokedAt: token.revokedAt.toISOString() };
      }

      await this.auditLog.record({ tenantId: null, action: 'token.revoked', details: { tokenId: token.id, role: token.role, label: token.label } }, manager);
      this.logger.log({ tenantId: null, tokenId: token.id }, 'API token revoked');

      return { alreadyRevoked: false, revokedAt: token.revokedAt.toISOString() };
    });
  }
}

function checkTokenRole(input: CreateTokenInput): FieldError[] {
  if (!TOKEN_ROLES.includes(input.role)) {
    return [{ field: 'role', message: 'must be one of owner, admin, staff, operator' }];
  }

  if (input.role === 'operator' && input.tenantId !== null) {
    return [{ field: 'tenantId', message: 'must be absent for role operator' }];
  }

  if (input.role !== 'operator' && input.tenantId === null) {
    return [{ field: 'tenantId', message: `is required for role ${input.role}` }];
  }

  return [];
}
