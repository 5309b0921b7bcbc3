import { FieldError } from '@app/common/errors/domain-error';
import { Role, TENANT_ROLES } from '@app/common/roles/roles';
import { CreateTokenInput, CreatedToken } from '@app/contracts/tenancy.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ApiTokensRepository } from './api-tokens.repository';
import { AuditLogService } from './audit-log.service';
import { Page, PageRequest } from './keyset-page';
import { generateApiToken, hashSecretToken } from './secret-tokens';
import { LABEL_MAX_LENGTH, checkName } from './tenant-validation';
import { TenantsRepository } from './tenants.repository';
import { assertValid, tenantNotFound, tokenNotFound } from './tenancy.errors';
import { TokenBody, toTokenBody } from './tenancy.mappers';

const TOKEN_ROLES: readonly Role[] = [...TENANT_ROLES, 'operator'];

/** API tokens: created by operators, shown once, stored as SHA-256 digests, revocable. */
@Injectable()
export class ApiTokensService {
  private readonly logger = new Logger(ApiTokensService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly tokens: ApiTokensRepository,
    private readonly tenants: TenantsRepository,
    private readonly auditLog: AuditLogService,
  ) {}

  async create(input: CreateTokenInput): Promise<CreatedToken> {
    const label = input.label.trim();
    assertValid([...checkTokenRole(input), ...checkName(label, 'label', LABEL_MAX_LENGTH)]);

    if (input.tenantId !== null && !(await this.tenants.findById(input.tenantId))) {
      throw tenantNotFound();
    }

    const token = generateApiToken();
    const saved = await this.dataSource.transaction(async (manager) => {
      const row = await this.tokens.insert(manager, { tenantId: input.tenantId, role: input.role, label, tokenHash: hashSecretToken(token) });
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
   * Lists one tenant's tokens when `tenantId` is given, else every token,
   * operator tokens included, through a SECURITY DEFINER function. Newest first.
   */
  async list(filter: { tenantId?: string }, page: PageRequest): Promise<Page<TokenBody>> {
    const result = filter.tenantId === undefined ? await this.tokens.listAcrossTenants(page) : await this.tokens.list(filter.tenantId, page);

    return { data: result.data.map(toTokenBody), nextCursor: result.nextCursor };
  }

  /** Returns the tenant id of the token with this id, or null for an operator token or an unknown id. */
  findTenantId(tokenId: string): Promise<string | null> {
    return this.tokens.findTenantId(tokenId);
  }

  /** Revoke a token; revoking one that is already revoked changes nothing. */
  async revoke(tokenId: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const token = await this.tokens.findById(tokenId, manager);
      if (!token) {
        throw tokenNotFound();
      }
      if (token.revokedAt) {
        return;
      }

      await this.tokens.revoke(manager, token.id, new Date());
      await this.auditLog.record(
        { tenantId: token.tenantId, action: 'token.revoked', details: { tokenId: token.id, role: token.role, label: token.label } },
        manager,
      );
      this.logger.log({ tenantId: token.tenantId, tokenId: token.id }, 'API token revoked');
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
