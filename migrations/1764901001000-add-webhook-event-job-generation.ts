import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which job may process an inbox row, and since when it waits for one.
 *
 * - `job_generation`: 0 for the job intake adds (`webhook-event-<id>`); a replay
 *   or the sweeper moving a row to a new job raises it, and the job id becomes
 *   `webhook-event-<id>-g<generation>`. A job whose generation is not the row's
 *   finds nothing to claim, so two jobs never process one row side by side.
 * - `queued_at`: when the row last got a job, at intake or at a replay. The
 *   sweeper waits its grace period from this time, so it never races a replay
 *   that is adding its job right now.
 */
export class AddWebhookEventJobGeneration1764901001000 implements MigrationInterface {
  name = 'AddWebhookEventJobGeneration1764901001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE webhook_events
        ADD COLUMN job_generation integer NOT NULL DEFAULT 0 CHECK (job_generation >= 0),
        ADD COLUMN queued_at timestamptz`);
    await queryRunner.query(`UPDATE webhook_events SET queued_at = received_at`);
    await queryRunner.query(`ALTER TABLE webhook_events ALTER COLUMN queued_at SET NOT NULL, ALTER COLUMN queued_at SET DEFAULT now()`);
    // The sweeper reads unfinished rows by queued_at; finished rows are most of the table.
    await queryRunner.query(`
      CREATE INDEX webhook_events_unfinished_queued_at_idx
          ON webhook_events (queued_at)
       WHERE status IN ('received', 'processing')`);
    // The operators' list across tenants, newest first.
    await queryRunner.query(`CREATE INDEX webhook_events_received_at_idx ON webhook_events (received_at DESC, id DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX webhook_events_received_at_idx`);
    await queryRunner.query(`DROP INDEX webhook_events_unfinished_queued_at_idx`);
    await queryRunner.query(`ALTER TABLE webhook_events DROP COLUMN queued_at, DROP COLUMN job_generation`);
  }
}
