import type {
  CreateTenantInput,
  CreateTokenInput,
  CreateUserInput,
  CreatedToken,
  TenancyAdmin,
  TenantView,
  TokenView,
} from '@app/contracts/tenancy.contracts';
import { Injectable } from '@nestjs/common';
import { ApiTokensService } from './api-tokens.service';
import { TenantsService } from './tenants.service';
import { TenantBody, toTenantView } from './tenancy.mappers';
import { TenantsRepository } from './tenants.repository';
import { UserBody, UsersService } from './users.service';

/** Operator actions shared by the ops HTTP routes and the ops CLI, bound to TENANCY_ADMIN. */
@Injectable()
export class TenancyAdminService implements TenancyAdmin {
  constructor(
    private readonly tenantsService: TenantsService,
    private readonly tenants: TenantsRepository,
    private readonly users: UsersService,
    private readonly tokens: ApiTokensService,
  ) {}

  createTenant(input: CreateTenantInput): Promise<TenantBody> {
    return this.tenantsService.create(input);
  }

  async findTenantBySlug(slug: string): Promise<TenantView | null> {
    const tenant = await this.tenants.findBySlug(slug.trim());

    return tenant ? toTenantView(tenant) : null;
  }

  setLiveModeAllowed(tenantId: string, allowed: boolean): Promise<TenantBody> {
    return this.tenantsService.setLiveModeAllowed(tenantId, allowed);
  }

  createUser(input: CreateUserInput): Promise<UserBody> {
    return this.users.create(input);
  }

  createToken(input: CreateTokenInput): Promise<CreatedToken> {
    return this.tokens.create(input);
  }

  revokeToken(tokenId: string): Promise<void> {
    return this.tokens.revoke(tokenId);
  }

  revokeSessions(input: { email: string; operator: boolean }): Promise<{ revoked: number }> {
    return this.users.revokeSessions(input.email, input.operator);
  }

  listTokens(query: { tenantId?: string; limit?: number; cursor?: string }): Promise<{ data: TokenView[]; nextCursor: string | null }> {
    return this.tokens.list({ tenantId: query.tenantId }, { limit: query.limit, cursor: query.cursor });
  }
}
