import { MAXIMUM_AMOUNT } from '@app/common/money/currencies';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { REFUND_REASONS, RefundReason } from '../refund-status';

/** Body of POST /api/v1/payments/:id/refunds. Without `amount`, everything left to refund is refunded. */
export class CreateRefundDto {
  @ApiPropertyOptional({
    example: 2000,
    minimum: 1,
    maximum: MAXIMUM_AMOUNT,
    description: "Positive integer in the payment currency's minor unit; at most what is left to refund. Missing: all that is left.",
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAXIMUM_AMOUNT)
  amount?: number;

  @ApiPropertyOptional({ enum: REFUND_REASONS })
  @IsOptional()
  @IsIn(REFUND_REASONS)
  reason?: Exclude<RefundReason, 'expired_uncaptured_charge'>;
}
