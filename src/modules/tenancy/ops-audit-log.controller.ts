import { Roles } from '@app/common/roles/roles';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AuditLogService } from './audit-log.service';
import { AuditEntryPageResponse, OpsAuditLogQueryDto } from './dto/audit-entry.dto';
import { Page } from './keyset-page';
import { AuditEntryBody } from './tenancy.mappers';

/** Audit entries across tenants, operators' own actions included. */
@ApiTags('ops')
@ApiBearerAuth()
@ApiCookieAuth()
@Roles('operator')
@Controller('api/v1/ops/audit-log')
export class OpsAuditLogController {
  constructor(private readonly auditLog: AuditLogService) {}

  @Get()
  @ApiOkResponse({ type: AuditEntryPageResponse })
  list(@Query() query: OpsAuditLogQueryDto): Promise<Page<AuditEntryBody>> {
    return this.auditLog.list({ tenantId: query.tenantId }, query);
  }
}
