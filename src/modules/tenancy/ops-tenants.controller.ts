import { RequestContext } from '@app/common/context/request-context';
import { Roles } from '@app/common/roles/roles';
import { Body, Controller, Get, HttpCode, HttpStatus, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiCookieAuth, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { PageQuery } from '@app/common/pagination/page-query';
import { CreateTenantDto, SetLiveModeDto, TenantPageResponse, TenantResponse, UpdateTenantDto } from './dto/tenant.dto';
import { CreateUserDto, UserResponse } from './dto/user.dto';
import { Page } from './keyset-page';
import { isUuid } from './tenant-validation';
import { TenantsService } from './tenants.service';
import { tenantNotFound } from './tenancy.errors';
import { TenantBody } from './tenancy.mappers';
import { UserBody, UsersService } from './users.service';

@ApiTags('ops')
@ApiBearerAuth()
@ApiCookieAuth()
@Roles('operator')
/**
 * Operators' tenant routes. The routes on one existing tenant run in that
 * tenant, as does adding a user to it (UsersService), and a new tenant is
 * created in itself (TenantsService.create). The list of every tenant reads
 * through a SECURITY DEFINER function.
 */
@Controller('api/v1/ops/tenants')
export class OpsTenantsController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly users: UsersService,
    private readonly context: RequestContext,
  ) {}

  @Post()
  @ApiCreatedResponse({ type: TenantResponse })
  @ApiConflictResponse({ description: '`already_exists`: a tenant has this slug' })
  create(@Body() body: CreateTenantDto): Promise<TenantBody> {
    return this.tenants.create(body);
  }

  @Get()
  @ApiOkResponse({ type: TenantPageResponse })
  list(@Query() query: PageQuery): Promise<Page<TenantBody>> {
    return this.tenants.list(query);
  }

  @Get(':tenantId')
  @ApiOkResponse({ type: TenantResponse })
  @ApiNotFoundResponse({ description: '`not_found`: no tenant with this id' })
  get(@Param('tenantId') tenantId: string): Promise<TenantBody> {
    return this.inTenant(tenantId, () => this.tenants.get(tenantId));
  }

  @Patch(':tenantId')
  @ApiOkResponse({ type: TenantResponse })
  @ApiNotFoundResponse({ description: '`not_found`: no tenant with this id' })
  update(@Param('tenantId') tenantId: string, @Body() body: UpdateTenantDto): Promise<TenantBody> {
    return this.inTenant(tenantId, () => this.tenants.update(tenantId, body));
  }

  @Post(':tenantId/live-mode')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: TenantResponse })
  @ApiNotFoundResponse({ description: '`not_found`: no tenant with this id' })
  @ApiConflictResponse({ description: '`invalid_state`: live mode is forbidden while the tenant has live keys connected' })
  setLiveMode(@Param('tenantId') tenantId: string, @Body() body: SetLiveModeDto): Promise<TenantBody> {
    return this.inTenant(tenantId, () => this.tenants.setLiveModeAllowed(tenantId, body.allowed));
  }

  @Post(':tenantId/users')
  @ApiCreatedResponse({ type: UserResponse })
  @ApiNotFoundResponse({ description: '`not_found`: no tenant with this id' })
  @ApiConflictResponse({ description: '`already_exists`: the email is already a user of this tenant' })
  createUser(@Param('tenantId') tenantId: string, @Body() body: CreateUserDto): Promise<UserBody> {
    return this.users.create({ tenantId, email: body.email, password: body.password, role: body.role });
  }

  private async inTenant<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    if (!isUuid(tenantId)) {
      throw tenantNotFound();
    }

    return this.context.runInTenant(tenantId, work);
  }
}
