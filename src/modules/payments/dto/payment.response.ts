import { ApiProperty } from '@nestjs/swagger';
import { PAYMENT_STATUSES, PaymentStatus } from '../payment-status';

/** A payment as the HTTP contract shows it: every field present, null where it has no value. */
export class PaymentResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: PAYMENT_STATUSES })
  status!: PaymentStatus;

  @ApiProperty({ example: 8900 })
  amount!: number;

  @ApiProperty({ example: 0 })
  amountRefunded!: number;

  @ApiProperty({ example: 'usd' })
  currency!: string;

  @ApiProperty({ type: String, nullable: true })
  description!: string | null;

  @ApiProperty({ type: String, nullable: true })
  receiptEmail!: string | null;

  @ApiProperty({ type: String, nullable: true })
  receiptUrl!: string | null;

  @ApiProperty()
  livemode!: boolean;

  @ApiProperty({ type: String, nullable: true, example: 'pi_3Nv0FGQ9RKHgCVdK0a1b2c3d' })
  stripePaymentIntentId!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: "Stripe's error code of a failed payment." })
  failureCode!: string | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: "Stripe's decline code of a failed payment." })
  declineCode!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Set only while `requires_action`, for Stripe.js.' })
  clientSecret!: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: "Stripe's `next_action`, only while `requires_action`." })
  nextAction!: Record<string, unknown> | null;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  invoiceId!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class PaymentListResponse {
  @ApiProperty({ type: [PaymentResponse] })
  data!: PaymentResponse[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
