import { ALL_TENANT_ROLES, OWNER_ADMIN, Roles } from '@app/common/roles/roles';
import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CustomersService } from './customers.service';
import { CreateCustomerDto } from './dto/create-customer.dto';
import { CustomerListResponse, CustomerResponse } from './dto/customer.response';
import { ListCustomersQuery } from './dto/list-customers.query';

@ApiTags('customers')
@ApiBearerAuth()
@Controller('api/v1/customers')
export class CustomersController {
  constructor(private readonly customers: CustomersService) {}

  @Post()
  @Roles(...OWNER_ADMIN)
  @HttpCode(HttpStatus.CREATED)
  @ApiOperation({ summary: "Create a business customer in the tenant's Stripe account" })
  @ApiResponse({ status: HttpStatus.CREATED, type: CustomerResponse })
  @ApiResponse({ status: HttpStatus.BAD_REQUEST, description: '`validation_failed`, also when Stripe rejects the tax id' })
  @ApiResponse({ status: HttpStatus.CONFLICT, description: '`stripe_not_connected`' })
  @ApiResponse({ status: HttpStatus.UNPROCESSABLE_ENTITY, description: '`stripe_keys_invalid`, `stripe_permission_missing`' })
  @ApiResponse({ status: HttpStatus.BAD_GATEWAY, description: '`stripe_unavailable`' })
  async create(@Body() body: CreateCustomerDto): Promise<CustomerResponse> {
    return this.customers.create(body);
  }

  @Get()
  @Roles(...ALL_TENANT_ROLES)
  @ApiOperation({ summary: 'List customers, newest first' })
  @ApiResponse({ status: HttpStatus.OK, type: CustomerListResponse })
  async list(@Query() query: ListCustomersQuery): Promise<CustomerListResponse> {
    return this.customers.list(query);
  }

  @Get(':id')
  @Roles(...ALL_TENANT_ROLES)
  @ApiOperation({ summary: 'Get a customer' })
  @ApiResponse({ status: HttpStatus.OK, type: CustomerResponse })
  @ApiResponse({ status: HttpStatus.NOT_FOUND, description: '`not_found`, also for another tenant\'s customer' })
  async get(@Param('id') id: string): Promise<CustomerResponse> {
    return this.customers.get(id);
  }
}
