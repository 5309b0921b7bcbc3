import { MigrationInterface, QueryRunner } from 'typeorm';
import { createInitialMonthlyPartitions } from '../src/database/initial-monthly-partitions';

/**
 * Partition the webhook inbox by RANGE on `stripe_created`, the Stripe event's
 * own `created` in epoch seconds, one partition per UTC month, with a DEFAULT
 * partition for anything outside the monthly ones.
 *
 * Stripe sends every delivery of an event with the same `created`, so a
 * redelivery lands in the same partition as the first delivery even when it
 * arrives in a later month, and the unique key (tenant_id, stripe_event_id,
 * stripe_created) still rejects it. PostgreSQL 15 requires the partition key in
 * every unique constraint, so the primary key becomes (id, stripe_created);
 * ids stay random UUIDs and lookups by id alone still use each partition's
 * primary key index. No table has a foreign key to webhook_events.
 *
 * The table is rebuilt in this migration's transaction: rename, create the
 * partitioned table, copy, drop the old one. Monthly partitions are created
 * from the month of the oldest stored event (at most 12 months back) to three
 * months ahead; older rows go to the default partition. The worker's
 * partition job creates later months.
 */
export class PartitionWebhookEvents1764904000000 implements MigrationInterface {
  name = 'PartitionWebhookEvents1764904000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE webhook_events RENAME TO webhook_events_unpartitioned`);
    await queryRunner.query(`
      CREATE TABLE webhook_events (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL,
        stripe_event_id text NOT NULL,
        type text NOT NULL,
        livemode boolean NOT NULL,
        api_version text,
        stripe_created bigint NOT NULL,
        payload jsonb NOT NULL,
        raw_body bytea NOT NULL,
        status text NOT NULL DEFAULT 'received',
        reason text,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        verified_by text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz,
        job_generation integer NOT NULL DEFAULT 0,
        queued_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT webhook_events_status_check CHECK (status IN ('received', 'processing', 'processed', 'failed', 'ignored')),
        CONSTRAINT webhook_events_verified_by_check CHECK (verified_by IN ('endpoint', 'platform')),
        CONSTRAINT webhook_events_attempts_check CHECK (attempts >= 0),
        CONSTRAINT webhook_events_job_generation_check CHECK (job_generation >= 0)
      ) PARTITION BY RANGE (stripe_created)`);
    await queryRunner.query(`CREATE TABLE webhook_events_default PARTITION OF webhook_events DEFAULT`);
    await createInitialMonthlyPartitions(queryRunner, 'webhook_events', `SELECT min(to_timestamp(stripe_created)) FROM webhook_events_unpartitioned`, 'epoch');

    await queryRunner.query(`
      INSERT INTO webhook_events
             (id, tenant_id, stripe_event_id, type, livemode, api_version, stripe_created, payload, raw_body, status, reason,
              attempts, last_error, verified_by, received_at, processed_at, job_generation, queued_at)
      SELECT id, tenant_id, stripe_event_id, type, livemode, api_version, stripe_created, payload, raw_body, status, reason,
             attempts, last_error, verified_by, received_at, processed_at, job_generation, queued_at
        FROM webhook_events_unpartitioned`);
    await queryRunner.query(`DROP TABLE webhook_events_unpartitioned`);

    // Built after the copy, and after the old table's constraints and indexes (same names) are gone.
    await queryRunner.query(`ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_pkey PRIMARY KEY (id, stripe_created)`);
    await queryRunner.query(`ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)`);
    await queryRunner.query(`ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_tenant_event_key UNIQUE (tenant_id, stripe_event_id, stripe_created)`);
    await queryRunner.query(`CREATE INDEX webhook_events_status_received_at_idx ON webhook_events (status, received_at)`);
    await queryRunner.query(`CREATE INDEX webhook_events_tenant_received_at_idx ON webhook_events (tenant_id, received_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX webhook_events_unfinished_queued_at_idx ON webhook_events (queued_at) WHERE status IN ('received', 'processing')`);
    await queryRunner.query(`CREATE INDEX webhook_events_received_at_idx ON webhook_events (received_at DESC, id DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE webhook_events RENAME TO webhook_events_partitioned`);
    await queryRunner.query(`
      CREATE TABLE webhook_events (
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL,
        stripe_event_id text NOT NULL,
        type text NOT NULL,
        livemode boolean NOT NULL,
        api_version text,
        stripe_created bigint NOT NULL,
        payload jsonb NOT NULL,
        raw_body bytea NOT NULL,
        status text NOT NULL DEFAULT 'received',
        reason text,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        verified_by text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz,
        job_generation integer NOT NULL DEFAULT 0 CHECK (job_generation >= 0),
        queued_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT webhook_events_status_check CHECK (status IN ('received', 'processing', 'processed', 'failed', 'ignored')),
        CONSTRAINT webhook_events_verified_by_check CHECK (verified_by IN ('endpoint', 'platform')),
        CONSTRAINT webhook_events_attempts_check CHECK (attempts >= 0)
      )`);
    // Rows of one (tenant, event) with two `created` values cannot come from Stripe, which signs `created`; the copy keeps the first received.
    await queryRunner.query(`
      INSERT INTO webhook_events
      SELECT DISTINCT ON (tenant_id, stripe_event_id)
             id, tenant_id, stripe_event_id, type, livemode, api_version, stripe_created, payload, raw_body, status, reason,
             attempts, last_error, verified_by, received_at, processed_at, job_generation, queued_at
        FROM webhook_events_partitioned
       ORDER BY tenant_id, stripe_event_id, received_at`);
    await queryRunner.query(`DROP TABLE webhook_events_partitioned`);
    await queryRunner.query(`ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_pkey PRIMARY KEY (id)`);
    await queryRunner.query(`ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)`);
    await queryRunner.query(`ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_tenant_event_key UNIQUE (tenant_id, stripe_event_id)`);
    await queryRunner.query(`CREATE INDEX webhook_events_status_received_at_idx ON webhook_events (status, received_at)`);
    await queryRunner.query(`CREATE INDEX webhook_events_tenant_received_at_idx ON webhook_events (tenant_id, received_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX webhook_events_unfinished_queued_at_idx ON webhook_events (queued_at) WHERE status IN ('received', 'processing')`);
    await queryRunner.query(`CREATE INDEX webhook_events_received_at_idx ON webhook_events (received_at DESC, id DESC)`);
  }
}
