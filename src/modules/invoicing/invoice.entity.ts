import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn, ValueTransformer } from 'typeorm';

export const INVOICE_STATUSES = ['draft', 'issuing', 'open', 'paid', 'void', 'uncollectible'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

/** node-postgres returns bigint as a string; amounts stay far below 2^53, so a number is exact. */
export const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** An invoice of one tenant; its number is assigned once, when it is issued, and never changes. */
@Entity({ name: 'invoices' })
export class InvoiceEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  /** `INV-2026-00042`; null while a draft. Unique per tenant and mode. */
  @Column({ type: 'text', nullable: true })
  number!: string | null;

  @Column({ type: 'text' })
  status!: InvoiceStatus;

  @Column({ name: 'customer_id', type: 'uuid', nullable: true })
  customerId!: string | null;

  /** The card payment this invoice documents; at most one invoice per payment. */
  @Column({ name: 'payment_id', type: 'uuid', nullable: true })
  paymentId!: string | null;

  @Column({ type: 'text' })
  currency!: string;

  /** Sum of the lines, in the currency's minor unit. */
  @Column({ type: 'bigint', transformer: bigintAsNumber })
  total!: number;

  @Column({ name: 'amount_paid', type: 'bigint', transformer: bigintAsNumber })
  amountPaid!: number;

  @Column({ name: 'amount_refunded', type: 'bigint', transformer: bigintAsNumber })
  amountRefunded!: number;

  /** A calendar date, `YYYY-MM-DD`, as node-postgres returns a date column. */
  @Column({ name: 'due_date', type: 'date', nullable: true })
  dueDate!: string | null;

  @Column({ type: 'boolean' })
  livemode!: boolean;

  @Column({ name: 'hosted_invoice_url', type: 'text', nullable: true })
  hostedInvoiceUrl!: string | null;

  @Column({ name: 'pdf_url', type: 'text', nullable: true })
  pdfUrl!: string | null;

  @Column({ name: 'stripe_invoice_id', type: 'text', nullable: true })
  stripeInvoiceId!: string | null;

  @Column({ type: 'text', nullable: true })
  memo!: string | null;

  @Column({ name: 'issued_at', type: 'timestamptz', nullable: true })
  issuedAt!: Date | null;

  @Column({ name: 'paid_at', type: 'timestamptz', nullable: true })
  paidAt!: Date | null;

  @Column({ name: 'voided_at', type: 'timestamptz', nullable: true })
  voidedAt!: Date | null;

  /** Payment terms of a B2B invoice, 1 to 365 days; null for the invoice of a card payment. */
  @Column({ name: 'days_until_due', type: 'int', nullable: true })
  daysUntilDue!: number | null;

  /** Set by the overdue check on an open invoice past its due date; cleared when it leaves `open`. */
  @Column({ type: 'boolean', default: false })
  overdue!: boolean;

  /**
   * When the issuing job last asked Stripe to create the invoice. While `stripeInvoiceId` is
   * null it means a Stripe invoice may exist, so the job searches Stripe before creating again.
   */
  @Column({ name: 'stripe_create_attempted_at', type: 'timestamptz', nullable: true })
  stripeCreateAttemptedAt!: Date | null;

  /** When Stripe sent the invoice to the customer. */
  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt!: Date | null;

  /** When Stripe was brought in line with a local void: voided there, or found never created. */
  @Column({ name: 'stripe_void_confirmed_at', type: 'timestamptz', nullable: true })
  stripeVoidConfirmedAt!: Date | null;

  /** Time of the refund event `amountRefunded` comes from; an older event never overwrites it. */
  @Column({ name: 'amount_refunded_as_of', type: 'timestamptz', nullable: true })
  amountRefundedAsOf!: Date | null;

  /** The Idempotency-Key record the finalize ran under, so a retry after a crash finds its result. */
  @Column({ name: 'finalize_idempotency_key_id', type: 'uuid', nullable: true })
  finalizeIdempotencyKeyId!: string | null;

  /** The Stripe job (issue, send or void) whose failure `stripeErrorCode` describes; null without one. */
  @Column({ name: 'stripe_error_job', type: 'text', nullable: true })
  stripeErrorJob!: 'issue' | 'send' | 'void' | null;

  /** Reason of the last failed job attempt, e.g. `stripe_keys_invalid`; cleared when that job succeeds. */
  @Column({ name: 'stripe_error_code', type: 'text', nullable: true })
  stripeErrorCode!: string | null;

  /** The failure's message, with secrets redacted. */
  @Column({ name: 'stripe_error_message', type: 'text', nullable: true })
  stripeErrorMessage!: string | null;

  @Column({ name: 'stripe_error_at', type: 'timestamptz', nullable: true })
  stripeErrorAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
