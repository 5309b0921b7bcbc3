import { RequestContext } from '@app/common/context/request-context';
import { Roles } from '@app/common/roles/roles';
import type { CreatedToken } from '@app/contracts/tenancy.contracts';
import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiTokensService } from './api-tokens.service';
import { CreateTokenDto, CreatedTokenResponse, TokenPageResponse, TokensQueryDto } from './dto/token.dto';
import { Page } from './keyset-page';
import { TokenBody } from './tenancy.mappers';

@ApiTags('ops')
@ApiBearerAuth()
@ApiCookieAuth()
@Roles('operator')
/**
 * Operators' token routes. Creating or revoking a tenant's token, and a list
 * filtered to one tenant, run in that tenant. Operator tokens, their
 * revocation and lists of every tenant run in the operator's cross-tenant
 * scope.
 */
@Controller('api/v1/ops/tokens')
export class OpsTokensController {
  constructor(
    private readonly tokens: ApiTokensService,
    private readonly context: RequestContext,
  ) {}

  /** Creates a token. This response is the only place the token itself ever appears. */
  @Post()
  @ApiCreatedResponse({ type: CreatedTokenResponse })
  create(@Body() body: CreateTokenDto): Promise<CreatedToken> {
    const create = (): Promise<CreatedToken> => this.tokens.create({ tenantId: body.tenantId ?? null, role: body.role, label: body.label });

    return body.tenantId === undefined ? create() : this.context.runInTenant(body.tenantId, create);
  }

  @Get()
  @ApiOkResponse({ type: TokenPageResponse })
  list(@Query() query: TokensQueryDto): Promise<Page<TokenBody>> {
    const list = (): Promise<Page<TokenBody>> => this.tokens.list({ tenantId: query.tenantId }, query);

    return query.tenantId === undefined ? list() : this.context.runInTenant(query.tenantId, list);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse()
  async revoke(@Param('id') id: string): Promise<void> {
    // An operator token, or an unknown id (404), has no tenant to run in.
    const tenantId = await this.tokens.findTenantId(id);
    const revoke = (): Promise<void> => this.tokens.revoke(id);

    return tenantId === null ? revoke() : this.context.runInTenant(tenantId, revoke);
  }
}
