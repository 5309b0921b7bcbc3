import { RequestContext } from '@app/common/context/request-context';
import { OWNER_ADMIN, Roles } from '@app/common/roles/roles';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AuditLogService } from './audit-log.service';
import { AuditEntryPageResponse } from './dto/audit-entry.dto';
import { PageQuery } from '@app/common/pagination/page-query';
import { Page } from './keyset-page';
import { AuditEntryBody } from './tenancy.mappers';

/** The caller's own tenant's audit log. */
@ApiTags('audit-log')
@ApiBearerAuth()
@ApiCookieAuth()
@Controller('api/v1/audit-log')
export class AuditLogController {
  constructor(
    private readonly auditLog: AuditLogService,
    private readonly context: RequestContext,
  ) {}

  @Get()
  @Roles(...OWNER_ADMIN)
  @ApiOkResponse({ type: AuditEntryPageResponse })
  list(@Query() query: PageQuery): Promise<Page<AuditEntryBody>> {
    return this.auditLog.list(this.context.requireTenantId(), query);
  }
}
