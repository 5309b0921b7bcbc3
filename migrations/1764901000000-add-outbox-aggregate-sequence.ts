import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-aggregate sequence numbers for domain events, so consumers apply one
 * aggregate's events in the order they were written even when BullMQ delivers
 * them out of order (a job that backs off lets later jobs pass it).
 *
 * - `outbox_events.aggregate_sequence`: 1, 2, 3… per (tenant, aggregate),
 *   assigned by the writer in the transaction that writes the event. Rows
 *   written before this migration keep NULL and are delivered unordered: numbering
 *   them now would make consumers wait for events they consumed long ago.
 * - `outbox_aggregate_sequences`: the last number handed out per aggregate.
 *   The writer's upsert locks the row until commit, so concurrent writers of one
 *   aggregate take turns and a rollback gives the number back (no gaps).
 * - `consumer_aggregate_positions`: the last sequence each consumer applied
 *   per aggregate. A consumer skips what it already applied and waits while an
 *   earlier event it listens to is missing.
 */
export class AddOutboxAggregateSequence1764901000000 implements MigrationInterface {
  name = 'AddOutboxAggregateSequence1764901000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE outbox_events ADD COLUMN aggregate_sequence bigint CHECK (aggregate_sequence >= 1)`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX outbox_events_aggregate_sequence_key
          ON outbox_events (tenant_id, aggregate_id, aggregate_sequence)
       WHERE aggregate_sequence IS NOT NULL`);
    await queryRunner.query(`
      CREATE TABLE outbox_aggregate_sequences (
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        aggregate_id text NOT NULL,
        last_sequence bigint NOT NULL CHECK (last_sequence >= 1),
        PRIMARY KEY (tenant_id, aggregate_id)
      )`);
    await queryRunner.query(`
      CREATE TABLE consumer_aggregate_positions (
        consumer text NOT NULL,
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        aggregate_id text NOT NULL,
        last_sequence bigint NOT NULL CHECK (last_sequence >= 1),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, tenant_id, aggregate_id)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE consumer_aggregate_positions`);
    await queryRunner.query(`DROP TABLE outbox_aggregate_sequences`);
    await queryRunner.query(`DROP INDEX outbox_events_aggregate_sequence_key`);
    await queryRunner.query(`ALTER TABLE outbox_events DROP COLUMN aggregate_sequence`);
  }
}
