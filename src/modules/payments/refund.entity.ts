import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn, ValueTransformer } from 'typeorm';
import type { RefundOrigin, RefundReason, RefundStatus } from './refund-status';

/** node-postgres returns bigint as a string; amounts stay far below 2^53, so a number is exact. */
const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/** A refund of a card payment: one Stripe refund, asked for through the API or outside the service. */
@Entity({ name: 'refunds' })
export class RefundEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ name: 'payment_id', type: 'uuid' })
  paymentId!: string;

  /** In the currency's minor unit. */
  @Column({ type: 'bigint', transformer: bigintAsNumber })
  amount!: number;

  @Column({ type: 'text' })
  currency!: string;

  @Column({ type: 'text' })
  status!: RefundStatus;

  @Column({ type: 'text', nullable: true })
  reason!: RefundReason | null;

  /** Null until Stripe's answer or event names the refund. */
  @Column({ name: 'stripe_refund_id', type: 'text', nullable: true })
  stripeRefundId!: string | null;

  /** Stripe's `failure_reason`, or the service's reason when Stripe never took the refund (such as `stripe_keys_invalid`). */
  @Column({ name: 'failure_reason', type: 'text', nullable: true })
  failureReason!: string | null;

  @Column({ type: 'text' })
  origin!: RefundOrigin;

  /** The Idempotency-Key record of the request that asked for the refund, if it sent one. */
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
