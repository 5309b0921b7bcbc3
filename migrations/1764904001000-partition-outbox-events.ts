import { MigrationInterface, QueryRunner } from 'typeorm';
import { createInitialMonthlyPartitions } from '../src/database/initial-monthly-partitions';

/**
 * Partition the outbox by RANGE on `created_at`, one partition per UTC month,
 * with a DEFAULT partition behind the monthly ones.
 *
 * PostgreSQL 15 requires the partition key in every unique constraint, so the
 * primary key becomes (id, created_at) and the per-aggregate sequence key
 * (tenant_id, aggregate_id, aggregate_sequence, created_at). Uniqueness of a
 * sequence number across months rests on the writer, which takes numbers from
 * the locked counter row in outbox_aggregate_sequences. processed_messages
 * stores outbox ids without a foreign key, so nothing points at this table.
 *
 * The table is rebuilt in this migration's transaction: rename, create the
 * partitioned table, copy, drop the old one.
 */
export class PartitionOutboxEvents1764904001000 implements MigrationInterface {
  name = 'PartitionOutboxEvents1764904001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE outbox_events RENAME TO outbox_events_unpartitioned`);
    await queryRunner.query(`
      CREATE TABLE outbox_events (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL,
        event_name text NOT NULL,
        aggregate_id text NOT NULL,
        payload jsonb NOT NULL,
        occurred_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        aggregate_sequence bigint,
        CONSTRAINT outbox_events_aggregate_sequence_check CHECK (aggregate_sequence >= 1)
      ) PARTITION BY RANGE (created_at)`);
    await queryRunner.query(`CREATE TABLE outbox_events_default PARTITION OF outbox_events DEFAULT`);
    await createInitialMonthlyPartitions(queryRunner, 'outbox_events', `SELECT min(created_at) FROM outbox_events_unpartitioned`, 'timestamptz');

    await queryRunner.query(`
      INSERT INTO outbox_events (id, tenant_id, event_name, aggregate_id, payload, occurred_at, created_at, published_at, aggregate_sequence)
      SELECT id, tenant_id, event_name, aggregate_id, payload, occurred_at, created_at, published_at, aggregate_sequence
        FROM outbox_events_unpartitioned`);
    await queryRunner.query(`DROP TABLE outbox_events_unpartitioned`);

    // Built after the copy, and after the old table's indexes (same names) are gone.
    await queryRunner.query(`ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_pkey PRIMARY KEY (id, created_at)`);
    await queryRunner.query(`CREATE INDEX outbox_events_unpublished_idx ON outbox_events (created_at, id) WHERE published_at IS NULL`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX outbox_events_aggregate_sequence_key
          ON outbox_events (tenant_id, aggregate_id, aggregate_sequence, created_at)
       WHERE aggregate_sequence IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE outbox_events RENAME TO outbox_events_partitioned`);
    await queryRunner.query(`
      CREATE TABLE outbox_events (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL,
        event_name text NOT NULL,
        aggregate_id text NOT NULL,
        payload jsonb NOT NULL,
        occurred_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        aggregate_sequence bigint CHECK (aggregate_sequence >= 1)
      )`);
    await queryRunner.query(`
      INSERT INTO outbox_events (id, tenant_id, event_name, aggregate_id, payload, occurred_at, created_at, published_at, aggregate_sequence)
      SELECT id, tenant_id, event_name, aggregate_id, payload, occurred_at, created_at, published_at, aggregate_sequence
        FROM outbox_events_partitioned`);
    await queryRunner.query(`DROP TABLE outbox_events_partitioned`);
    await queryRunner.query(`ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_pkey PRIMARY KEY (id)`);
    await queryRunner.query(`CREATE INDEX outbox_events_unpublished_idx ON outbox_events (created_at, id) WHERE published_at IS NULL`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX outbox_events_aggregate_sequence_key
          ON outbox_events (tenant_id, aggregate_id, aggregate_sequence)
       WHERE aggregate_sequence IS NOT NULL`);
  }
}
