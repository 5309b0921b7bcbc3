import { ApiProperty } from '@nestjs/swagger';
import { INVOICE_STATUSES, InvoiceStatus } from '../invoice.entity';

export class InvoiceLineResponse {
  @ApiProperty({ example: 'Card payment' })
  description!: string;

  @ApiProperty({ example: 1 })
  quantity!: number;

  @ApiProperty({ example: 8900 })
  unitAmount!: number;

  @ApiProperty({ example: 8900 })
  amount!: number;
}

/** The last failed attempt of an invoice's Stripe job. The daily reconciliation starts a job that failed for good again. */
export class InvoiceStripeErrorResponse {
  @ApiProperty({ enum: ['issue', 'send', 'void'], description: 'The job that failed: issuing the invoice in Stripe, sending it, or voiding it there.' })
  job!: 'issue' | 'send' | 'void';

  @ApiProperty({ example: 'stripe_keys_invalid', description: 'The failure reason, as the job metrics and logs name it.' })
  code!: string;

  @ApiProperty({ example: 'Stripe rejected the stored secret key. Verify the connection or enter new keys in Settings → Billing.' })
  message!: string;

  @ApiProperty({ format: 'date-time' })
  failedAt!: string;
}

/** An invoice as the HTTP contract shows it: every field present, null where it has no value. */
export class InvoiceResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, nullable: true, example: 'INV-2026-00042' })
  number!: string | null;

  @ApiProperty({ enum: INVOICE_STATUSES })
  status!: InvoiceStatus;

  @ApiProperty({ description: "Open and past its due date in the tenant's time zone, as the hourly overdue check last found." })
  overdue!: boolean;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  customerId!: string | null;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  paymentId!: string | null;

  @ApiProperty({ example: 'usd' })
  currency!: string;

  @ApiProperty({ type: [InvoiceLineResponse] })
  lines!: InvoiceLineResponse[];

  @ApiProperty({ example: 8900 })
  total!: number;

  @ApiProperty({ example: 8900 })
  amountPaid!: number;

  @ApiProperty({ example: 0 })
  amountRefunded!: number;

  @ApiProperty({ type: String, format: 'date', nullable: true, example: '2027-01-03' })
  dueDate!: string | null;

  @ApiProperty()
  livemode!: boolean;

  @ApiProperty({ type: String, nullable: true })
  hostedInvoiceUrl!: string | null;

  @ApiProperty({ type: String, nullable: true })
  pdfUrl!: string | null;

  @ApiProperty({ type: String, nullable: true })
  stripeInvoiceId!: string | null;

  @ApiProperty({ type: String, nullable: true })
  memo!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  issuedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  paidAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  voidedAt!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: Number, nullable: true, example: 30, description: 'Payment terms of a B2B invoice; null for a card payment.' })
  daysUntilDue!: number | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When Stripe sent the invoice to the customer.' })
  sentAt!: string | null;

  @ApiProperty({
    type: InvoiceStripeErrorResponse,
    nullable: true,
    description:
      "The last failed attempt of a Stripe job of the invoice, such as an issue job Stripe rejected. A failure that is retried ends its message with the attempt number. An attempt that waits for Stripe's search to show whether an earlier attempt created the invoice has the code retry_later. Null once the job succeeds.",
  })
  stripeError!: InvoiceStripeErrorResponse | null;
}

export class InvoiceListResponse {
  @ApiProperty({ type: [InvoiceResponse] })
  data!: InvoiceResponse[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
