import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn, ValueTransformer } from 'typeorm';
import type { PaymentStatus } from './payment-status';

/** node-postgres returns bigint as a string; amounts stay far below 2^53, so a number is exact. */
const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** A card payment taken through the tenant's Stripe account: one PaymentIntent. */
@Entity({ name: 'payments' })
export class PaymentEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'text' })
  status!: PaymentStatus;

  /** In the currency's minor unit. */
  @Column({ type: 'bigint', transformer: bigintAsNumber })
  amount!: number;

  /** Sum of succeeded refunds, in the minor unit. */
  @Column({ name: 'amount_refunded', type: 'bigint', transformer: bigintAsNumber })
  amountRefunded!: number;

  @Column({ type: 'text' })
  currency!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ name: 'receipt_email', type: 'text', nullable: true })
  receiptEmail!: string | null;

  @Column({ name: 'receipt_url', type: 'text', nullable: true })
  receiptUrl!: string | null;

  @Column({ type: 'boolean' })
  livemode!: boolean;

  /** Null only between our insert and Stripe's response. */
  @Column({ name: 'stripe_payment_intent_id', type: 'text', nullable: true })
  stripePaymentIntentId!: string | null;

  @Column({ name: 'stripe_charge_id', type: 'text', nullable: true })
  stripeChargeId!: string | null;

  @Column({ name: 'failure_code', type: 'text', nullable: true })
  failureCode!: string | null;

  @Column({ name: 'decline_code', type: 'text', nullable: true })
  declineCode!: string | null;

  /** The intent's client secret for Stripe.js, kept only while the payment requires action. Never logged. */
  @Column({ name: 'client_secret', type: 'text', nullable: true })
  clientSecret!: string | null;

  @Column({ name: 'next_action', type: 'jsonb', nullable: true })
  nextAction!: Record<string, unknown> | null;

  @Column({ name: 'invoice_id', type: 'uuid', nullable: true })
  invoiceId!: string | null;

  @Column({ name: 'customer_id', type: 'uuid', nullable: true })
  customerId!: string | null;

  /** The client's metadata, as sent to Stripe without the service's own keys. */
  @Column({ type: 'jsonb' })
  metadata!: Record<string, string>;

  /** The Idempotency-Key record of the request that created the payment, if it sent one. */
  @Column({ name: 'idempotency_key_id', type: 'uuid', nullable: true })
  idempotencyKeyId!: string | null;

  /** `created` (Unix seconds) of the newest Stripe event applied, to order out-of-order deliveries. */
  @Column({ name: 'last_stripe_event_created', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  lastStripeEventCreated!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
