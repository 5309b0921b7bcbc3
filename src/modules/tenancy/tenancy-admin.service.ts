import { RequestContext } from '@app/common/context/request-context';
import type {
  CreateTenantInput,
  CreateTokenInput,
  CreateUserInput,
  CreatedToken,
  TenancyAdmin,
  TenantView,
  TokenRevocation,
  TokenView,
} from '@app/contracts/tenancy.contracts';
import { Injectable } from '@nestjs/common';
import { ApiTokensService } from './api-tokens.service';
import { Page, PageRequest } from './keyset-page';
import { TenantsService } from './tenants.service';
import { TenantBody, toTenantView } from './tenancy.mappers';
import { TenantsRepository } from './tenants.repository';
import { isUuid } from './tenant-validation';
import { tenantNotFound } from './tenancy.errors';
import { UserBody, UsersService } from './users.service';

/**
 * Operator actions shared by the ops HTTP routes and the ops CLI, bound to
 * TENANCY_ADMIN. The caller may have no tenant, as the CLI has none, so each
 * action on one tenant runs in that tenant here or in the service it calls.
 */
@Injectable()
export class TenancyAdminService implements TenancyAdmin {
  constructor(
    private readonly tenantsService: TenantsService,
    private readonly tenants: TenantsRepository,
    private readonly users: UsersService,
    private readonly tokens: ApiTokensService,
    private readonly context: RequestContext,
  ) {}

  createTenant(input: CreateTenantInput): Promise<TenantBody> {
    return this.tenantsService.create(input);
  }

  async findTenantById(tenantId: string): Promise<TenantView | null> {
    if (!isUuid(tenantId)) {
      return null;
    }

    const tenant = await this.context.runInTenant(tenantId, () => this.tenants.findById(tenantId));

    return tenant ? toTenantView(tenant) : null;
  }

  async findTenantBySlug(slug: string): Promise<TenantView | null> {
    const tenantId = await this.tenants.findIdBySlug(slug.trim());

    return tenantId === null ? null : this.findTenantById(tenantId);
  }

  listTenants(page: PageRequest): Promise<Page<TenantView>> {
    return this.tenantsService.list(page);
  }

  setLiveModeAllowed(tenantId: string, allowed: boolean): Promise<TenantBody> {
    if (!isUuid(tenantId)) {
      throw tenantNotFound();
    }

    return this.context.runInTenant(tenantId, () => this.tenantsService.setLiveModeAllowed(tenantId, allowed));
  }

  createUser(input: CreateUserInput): Promise<UserBody> {
    return this.users.create(input);
  }

  createToken(input: CreateTokenInput): Promise<CreatedToken> {
    return this.tokens.create(input);
  }

  revokeToken(tokenId: string): Promise<TokenRevocation> {
    return this.tokens.revoke(tokenId);
  }

  revokeSessions(input: { email: string; operator: boolean }): Promise<{ revoked: number }> {
    return this.users.revokeSessions(input.email, input.operator);
  }

  listTokens(query: { tenantId?: string; limit?: number; cursor?: string }): Promise<{ data: TokenView[]; nextCursor: string | null }> {
    return this.tokens.list({ tenantId: query.tenantId }, { limit: query.limit, cursor: query.cursor });
  }
}
