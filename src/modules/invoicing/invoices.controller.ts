import { ALL_TENANT_ROLES, Roles } from '@app/common/roles/roles';
import { Controller, Get, HttpStatus, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { InvoiceListResponse, InvoiceResponse } from './dto/invoice.response';
import { ListInvoicesQuery } from './dto/list-invoices.query';
import { InvoicesService } from './invoices.service';

@ApiTags('invoices')
@ApiBearerAuth()
@Controller('api/v1/invoices')
export class InvoicesController {
  constructor(private readonly invoices: InvoicesService) {}

  @Get()
  @Roles(...ALL_TENANT_ROLES)
  @ApiOperation({ summary: 'List invoices, newest first' })
  @ApiResponse({ status: HttpStatus.OK, type: InvoiceListResponse })
  async list(@Query() query: ListInvoicesQuery): Promise<InvoiceListResponse> {
    return this.invoices.list(query);
  }

  @Get(':id')
  @Roles(...ALL_TENANT_ROLES)
  @ApiOperation({ summary: 'Get an invoice' })
  @ApiResponse({ status: HttpStatus.OK, type: InvoiceResponse })
  @ApiResponse({ status: HttpStatus.NOT_FOUND, description: '`not_found`, also for another tenant\'s invoice' })
  async get(@Param('id') id: string): Promise<InvoiceResponse> {
    return this.invoices.get(id);
  }
}
