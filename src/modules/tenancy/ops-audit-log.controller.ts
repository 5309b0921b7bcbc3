import { RequestContext } from '@app/common/context/request-context';
import { Roles } from '@app/common/roles/roles';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AuditLogService } from './audit-log.service';
import { AuditEntryPageResponse, OpsAuditLogQueryDto } from './dto/audit-entry.dto';
import { Page } from './keyset-page';
import { AuditEntryBody } from './tenancy.mappers';

/**
 * Audit entries across tenants, operators' own actions included. A list
 * filtered to one tenant is read in that tenant, and the unfiltered list
 * through a SECURITY DEFINER function.
 */
@ApiTags('ops')
@ApiBearerAuth()
@ApiCookieAuth()
@Roles('operator')
@Controller('api/v1/ops/audit-log')
export class OpsAuditLogController {
  constructor(
    private readonly auditLog: AuditLogService,
    private readonly context: RequestContext,
  ) {}

  @Get()
  @ApiOkResponse({ type: AuditEntryPageResponse })
  list(@Query() query: OpsAuditLogQueryDto): Promise<Page<AuditEntryBody>> {
    const tenantId = query.tenantId;
    if (tenantId === undefined) {
      return this.auditLog.listAcrossTenants(query);
    }

    return this.context.runInTenant(tenantId, () => this.auditLog.list(tenantId, query));
  }
}
