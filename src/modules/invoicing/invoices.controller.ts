import { EmptyBodyPipe } from '@app/common/validation/empty-body.pipe';
import { Idempotent } from '@app/common/idempotency/idempotent.decorator';
import { ALL_TENANT_ROLES, OWNER_ADMIN, Roles } from '@app/common/roles/roles';
import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CreateInvoiceDto } from './dto/create-invoice.dto';
import { InvoiceListResponse, InvoiceResponse } from './dto/invoice.response';
import { ListInvoicesQuery } from './dto/list-invoices.query';
import { InvoiceDraftsService } from './invoice-drafts.service';
import { InvoiceLifecycleService } from './invoice-lifecycle.service';
import { InvoicesService } from './invoices.service';

@ApiTags('invoices')
@ApiBearerAuth()
@Controller('api/v1/invoices')
export class InvoicesController {
  constructor(
    private readonly invoices: InvoicesService,
    private readonly drafts: InvoiceDraftsService,
    private readonly lifecycle: InvoiceLifecycleService,
  ) {}

  @Post()
  @Roles(...OWNER_ADMIN)
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({ summary: 'Create a draft invoice for a customer; it takes a number when finalized' })
  @ApiResponse({ status: HttpStatus.CREATED, type: InvoiceResponse })
  @ApiResponse({ status: HttpStatus.BAD_REQUEST, description: '`validation_failed`, also for a customer of another tenant' })
  async create(@Body() body: CreateInvoiceDto): Promise<InvoiceResponse> {
    return this.drafts.create(body);
  }

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

  @Delete(':id')
  @Roles(...OWNER_ADMIN)
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a draft invoice' })
  @ApiResponse({ status: HttpStatus.NO_CONTENT, description: 'Deleted' })
  @ApiResponse({ status: HttpStatus.NOT_FOUND, description: '`not_found`' })
  @ApiResponse({ status: HttpStatus.CONFLICT, description: '`invalid_state`: the invoice is not a draft' })
  async delete(@Param('id') id: string): Promise<void> {
    await this.drafts.delete(id);
  }

  @Post(':id/finalize')
  @Roles(...OWNER_ADMIN)
  @Idempotent()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Assign the next number and issue the invoice in Stripe' })
  @ApiResponse({ status: HttpStatus.OK, type: InvoiceResponse, description: 'The invoice, `issuing` with its number' })
  @ApiResponse({ status: HttpStatus.NOT_FOUND, description: '`not_found`' })
  @ApiResponse({
    status: HttpStatus.CONFLICT,
    description: '`invalid_state` (not a draft, or a customer of another Stripe account or of the other mode), `stripe_not_connected`, `idempotency_key_reused`, `idempotency_key_in_use`',
  })
  @ApiResponse({ status: HttpStatus.UNPROCESSABLE_ENTITY, description: '`stripe_keys_invalid`' })
  async finalize(@Param('id') id: string, @Body(EmptyBodyPipe) _body: undefined): Promise<InvoiceResponse> {
    return this.lifecycle.finalize(id);
  }

  @Post(':id/void')
  @Roles(...OWNER_ADMIN)
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Void an issuing, open or uncollectible invoice; it keeps its number' })
  @ApiResponse({ status: HttpStatus.OK, type: InvoiceResponse })
  @ApiResponse({ status: HttpStatus.NOT_FOUND, description: '`not_found`' })
  @ApiResponse({ status: HttpStatus.CONFLICT, description: '`invalid_state`, `stripe_not_connected`' })
  @ApiResponse({ status: HttpStatus.UNPROCESSABLE_ENTITY, description: '`stripe_keys_invalid`' })
  async void(@Param('id') id: string, @Body(EmptyBodyPipe) _body: undefined): Promise<InvoiceResponse> {
    return this.lifecycle.void(id);
  }
}
