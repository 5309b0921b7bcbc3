import type { WebhookEventStatusName } from '@app/contracts/webhooks.contracts';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export { WEBHOOK_EVENT_STATUSES } from '@app/contracts/webhooks.contracts';
export type WebhookEventStatus = WebhookEventStatusName;

/** The kind of secret that verified a delivery: the tenant endpoint's own, or a platform secret. */
export type WebhookVerifiedBy = 'endpoint' | 'platform';

/**
 * A Stripe event in the inbox. Intake and the worker write it with plain SQL
 * (WebhookEventsRepository); the entity describes the table for reads. The
 * table is partitioned by `stripe_created`, so its primary key in PostgreSQL
 * is (id, stripe_created); ids are random UUIDs.
 */
@Entity({ name: 'webhook_events' })
export class WebhookEventEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ name: 'stripe_event_id', type: 'text' })
  stripeEventId!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ type: 'boolean' })
  livemode!: boolean;

  @Column({ name: 'api_version', type: 'text', nullable: true })
  apiVersion!: string | null;

  /** The event's `created`, in whole seconds since the epoch. */
  @Column({ name: 'stripe_created', type: 'bigint', transformer: { to: (value: number) => value, from: (value: string) => Number(value) } })
  stripeCreated!: number;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  /** The body exactly as received, which is what the signature covers. */
  @Column({ name: 'raw_body', type: 'bytea', select: false })
  rawBody!: Buffer;

  @Column({ type: 'text' })
  status!: WebhookEventStatus;

  /** The reason the event was ignored or failed, e.g. `unhandled_type` or `mode_mismatch`. */
  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ type: 'integer' })
  attempts!: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'verified_by', type: 'text' })
  verifiedBy!: WebhookVerifiedBy;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;

  @Column({ name: 'processed_at', type: 'timestamptz', nullable: true })
  processedAt!: Date | null;

  /** The generation of the only job that may process the row; see `webhookEventJobId`. */
  @Column({ name: 'job_generation', type: 'integer' })
  jobGeneration!: number;

  /** When the row last got a job (intake or replay); the sweeper's grace period counts from here. */
  @Column({ name: 'queued_at', type: 'timestamptz' })
  queuedAt!: Date;
}
