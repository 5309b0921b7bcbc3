import { ApiProperty } from '@nestjs/swagger';
import { REFUND_STATUSES, RefundStatus } from '../refund-status';

/** A refund as the HTTP contract shows it: every field present, null where it has no value. */
export class RefundResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  paymentId!: string;

  @ApiProperty({ example: 2000, description: "In the payment currency's minor unit." })
  amount!: number;

  @ApiProperty({ example: 'usd' })
  currency!: string;

  @ApiProperty({ enum: REFUND_STATUSES })
  status!: RefundStatus;

  @ApiProperty({ type: String, nullable: true, enum: ['requested_by_customer', 'duplicate', 'fraudulent', 'expired_uncaptured_charge'] })
  reason!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 're_3Nv0FGQ9RKHgCVdK1x2y3z4w' })
  stripeRefundId!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: "Why a refund failed: Stripe's `failure_reason`, or the service's reason when Stripe never took it (e.g. `stripe_keys_invalid`).",
  })
  failureReason!: string | null;

  @ApiProperty({ enum: ['api', 'stripe'], description: '`stripe` for a refund made outside the service, such as in the Stripe Dashboard.' })
  origin!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export class RefundListResponse {
  @ApiProperty({ type: [RefundResponse] })
  data!: RefundResponse[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
