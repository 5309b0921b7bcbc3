import { Idempotent } from '@app/common/idempotency/idempotent.decorator';
import { ALL_TENANT_ROLES, OWNER_ADMIN, Roles } from '@app/common/roles/roles';
import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CreateRefundDto } from './dto/create-refund.dto';
import { ListRefundsQuery } from './dto/list-refunds.query';
import { RefundListResponse, RefundResponse } from './dto/refund.response';
import { RefundsService } from './refunds.service';

@ApiTags('payments')
@ApiBearerAuth()
@Controller('api/v1/payments/:id/refunds')
export class RefundsController {
  constructor(private readonly refunds: RefundsService) {}

  @Post()
  @Roles(...OWNER_ADMIN)
  @HttpCode(HttpStatus.CREATED)
  @Idempotent()
  @ApiOperation({ summary: 'Refund all or part of a succeeded payment' })
  @ApiResponse({ status: HttpStatus.CREATED, type: RefundResponse })
  @ApiResponse({ status: HttpStatus.NOT_FOUND, description: '`not_found`, also for another tenant\'s payment' })
  @ApiResponse({
    status: HttpStatus.CONFLICT,
    description: '`stripe_not_connected`; `invalid_state` for a payment that never succeeded; `idempotency_key_reused`; `idempotency_key_in_use` (Retry-After)',
  })
  @ApiResponse({
    status: HttpStatus.UNPROCESSABLE_ENTITY,
    description: '`refund_exceeds_payment` (with `amountRefundable`), `stripe_keys_invalid`, `stripe_permission_missing`',
  })
  @ApiResponse({ status: HttpStatus.BAD_GATEWAY, description: '`stripe_unavailable`: the refund stays pending and is retried; retry with the same Idempotency-Key' })
  async create(@Param('id') paymentId: string, @Body() body: CreateRefundDto): Promise<RefundResponse> {
    return this.refunds.create(paymentId, body);
  }

  @Get()
  @Roles(...ALL_TENANT_ROLES)
  @ApiOperation({ summary: "List a payment's refunds, newest first, including refunds made in the Stripe Dashboard" })
  @ApiResponse({ status: HttpStatus.OK, type: RefundListResponse })
  @ApiResponse({ status: HttpStatus.NOT_FOUND, description: '`not_found`, also for another tenant\'s payment' })
  async list(@Param('id') paymentId: string, @Query() query: ListRefundsQuery): Promise<RefundListResponse> {
    return this.refunds.list(paymentId, query);
  }
}
