import { Idempotent } from '@app/common/idempotency/idempotent.decorator';
import { ALL_TENANT_ROLES, Roles } from '@app/common/roles/roles';
import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CreatePaymentDto } from './dto/create-payment.dto';
import { ListPaymentsQuery } from './dto/list-payments.query';
import { PaymentListResponse, PaymentResponse } from './dto/payment.response';
import { PaymentsService } from './payments.service';

@ApiTags('payments')
@ApiBearerAuth()
@Controller('api/v1/payments')
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Post()
  @Roles(...ALL_TENANT_ROLES)
  @HttpCode(HttpStatus.CREATED)
  @Idempotent({ claimInHandler: true })
  @ApiOperation({ summary: "Create and confirm a card payment on the tenant's Stripe account" })
  @ApiResponse({ status: HttpStatus.CREATED, type: PaymentResponse })
  @ApiResponse({ status: HttpStatus.PAYMENT_REQUIRED, description: '`card_declined` with `paymentId`, `failureCode` and `declineCode`.' })
  @ApiResponse({ status: HttpStatus.CONFLICT, description: '`stripe_not_connected`, `idempotency_key_reused`, `idempotency_key_in_use` (Retry-After)' })
  @ApiResponse({ status: HttpStatus.UNPROCESSABLE_ENTITY, description: '`stripe_keys_invalid`, `stripe_permission_missing`' })
  @ApiResponse({ status: HttpStatus.BAD_GATEWAY, description: '`stripe_unavailable`; retrying with the same Idempotency-Key never creates a second PaymentIntent' })
  async create(@Body() body: CreatePaymentDto): Promise<PaymentResponse> {
    return this.payments.create(body);
  }

  @Get()
  @Roles(...ALL_TENANT_ROLES)
  @ApiOperation({ summary: 'List payments, newest first' })
  @ApiResponse({ status: HttpStatus.OK, type: PaymentListResponse })
  async list(@Query() query: ListPaymentsQuery): Promise<PaymentListResponse> {
    return this.payments.list(query);
  }

  @Get(':id')
  @Roles(...ALL_TENANT_ROLES)
  @ApiOperation({ summary: 'Get a payment' })
  @ApiResponse({ status: HttpStatus.OK, type: PaymentResponse })
  @ApiResponse({ status: HttpStatus.NOT_FOUND, description: '`not_found`, also for another tenant\'s payment' })
  async get(@Param('id') id: string): Promise<PaymentResponse> {
    return this.payments.get(id);
  }
}
