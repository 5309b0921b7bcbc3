import { AppRoles } from '@app/common/app-roles';
import { TENANCY_ADMIN, TENANCY_FACADE } from '@app/contracts/tenancy.contracts';
import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiTokenEntity } from './api-token.entity';
import { ApiTokensRepository } from './api-tokens.repository';
import { ApiTokensService } from './api-tokens.service';
import { AuditEntryEntity } from './audit-entry.entity';
import { AuditLogController } from './audit-log.controller';
import { AuditLogRepository } from './audit-log.repository';
import { AuditLogService } from './audit-log.service';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { AuthenticationGuard } from './authentication.guard';
import { LoginRateLimiter } from './login-rate-limiter';
import { MembershipEntity } from './membership.entity';
import { OpsAuditLogController } from './ops-audit-log.controller';
import { OpsTenantsController } from './ops-tenants.controller';
import { OpsTokensController } from './ops-tokens.controller';
import { SessionEntity } from './session.entity';
import { SessionsRepository } from './sessions.repository';
import { TenancyAdminService } from './tenancy-admin.service';
import { TenancyFacadeService } from './tenancy-facade.service';
import { TENANCY_MODULE_OPTIONS, TenancyModuleOptions } from './tenancy-options';
import { TenantEntity } from './tenant.entity';
import { TenantsRepository } from './tenants.repository';
import { TenantsService } from './tenants.service';
import { UserEntity } from './user.entity';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

/**
 * Tenants, users, memberships, API tokens, sessions and the audit log. The
 * authentication guard is registered in every role, so a route that a worker
 * or a future role serves is guarded too unless it is marked @Public().
 */
@Module({})
export class TenancyModule {
  static forRoles(roles: AppRoles, options: TenancyModuleOptions = {}): DynamicModule {
    return {
      module: TenancyModule,
      // Global, so the other contexts receive TENANCY_FACADE without importing this module's file.
      global: true,
      imports: [TypeOrmModule.forFeature([ApiTokenEntity, AuditEntryEntity, MembershipEntity, SessionEntity, TenantEntity, UserEntity])],
      controllers: roles.api ? [AuditLogController, AuthController, OpsAuditLogController, OpsTenantsController, OpsTokensController] : [],
      providers: [
        ApiTokensRepository,
        ApiTokensService,
        AuditLogRepository,
        AuditLogService,
        AuthService,
        LoginRateLimiter,
        SessionsRepository,
        TenancyAdminService,
        TenancyFacadeService,
        TenantsRepository,
        TenantsService,
        UsersRepository,
        UsersService,
        { provide: APP_GUARD, useClass: AuthenticationGuard },
        { provide: TENANCY_ADMIN, useExisting: TenancyAdminService },
        { provide: TENANCY_FACADE, useExisting: TenancyFacadeService },
        { provide: TENANCY_MODULE_OPTIONS, useValue: options },
      ],
      exports: [TENANCY_ADMIN, TENANCY_FACADE],
    };
  }
}
