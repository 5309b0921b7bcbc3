import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A domain event written in the same transaction as the state change it
 * announces; the relay publishes it to the domain-events queue afterwards.
 * The table is partitioned by `created_at`, so its primary key in PostgreSQL
 * is (id, created_at); ids are random UUIDs.
 */
@Entity({ name: 'outbox_events' })
export class OutboxEventEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ name: 'event_name', type: 'text' })
  eventName!: string;

  @Column({ name: 'aggregate_id', type: 'text' })
  aggregateId!: string;

  /** 1, 2, 3… per (tenant, aggregate) in the order the events were written; null for rows older than the numbering. */
  @Column({
    name: 'aggregate_sequence',
    type: 'bigint',
    nullable: true,
    transformer: { to: (value: number | null) => value, from: (value: string | null) => (value === null ? null : Number(value)) },
  })
  aggregateSequence!: number | null;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt!: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;
}

/** What the relay puts on the domain-events queue: ids and values, never secrets. */
export interface DomainEventJobData {
  messageId: string;
  eventName: string;
  tenantId: string;
  aggregateId: string;
  /** The event's place among its aggregate's events; null for events written before the numbering. */
  aggregateSequence: number | null;
  occurredAt: string;
  payload: Record<string, unknown>;
}
