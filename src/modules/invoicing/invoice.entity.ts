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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
