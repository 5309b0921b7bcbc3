import { Roles } from '@app/common/roles/roles';
import type { CreatedToken } from '@app/contracts/tenancy.contracts';
import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiTokensService } from './api-tokens.service';
import { CreateTokenDto, CreatedTokenResponse, TokenPageResponse, TokensQueryDto } from './dto/token.dto';
import { Page } from './keyset-page';
import { TokenBody } from './tenancy.mappers';

@ApiTags('ops')
@ApiBearerAuth()
@ApiCookieAuth()
@Roles('operator')
/**
 * Operators' token routes. ApiTokensService runs the work on a tenant's token,
 * and a list filtered to one tenant, in that tenant.
 */
@Controller('api/v1/ops/tokens')
export class OpsTokensController {
  constructor(private readonly tokens: ApiTokensService) {}

  /** Creates a token. This response is the only place the token itself ever appears. */
  @Post()
  @ApiCreatedResponse({ type: CreatedTokenResponse })
  @ApiNotFoundResponse({ description: '`not_found`: no tenant with `tenantId`' })
  create(@Body() body: CreateTokenDto): Promise<CreatedToken> {
    return this.tokens.create({ tenantId: body.tenantId ?? null, role: body.role, label: body.label });
  }

  @Get()
  @ApiOkResponse({ type: TokenPageResponse })
  list(@Query() query: TokensQueryDto): Promise<Page<TokenBody>> {
    return this.tokens.list({ tenantId: query.tenantId }, query);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ description: '`not_found`: no token with this id' })
  async revoke(@Param('id') id: string): Promise<void> {
    await this.tokens.revoke(id);
  }
}
