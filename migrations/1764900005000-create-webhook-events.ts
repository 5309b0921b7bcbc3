import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The webhook inbox: one row per Stripe event and tenant, written by intake
 * before the 200 and moved to a final status by the worker. `raw_body` keeps
 * the exact bytes Stripe signed; `payload` is the same body as jsonb for
 * queries.
 */
export class CreateWebhookEvents1764900005000 implements MigrationInterface {
  name = 'CreateWebhookEvents1764900005000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE webhook_events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id),
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
        CONSTRAINT webhook_events_tenant_event_key UNIQUE (tenant_id, stripe_event_id),
        CONSTRAINT webhook_events_status_check CHECK (status IN ('received', 'processing', 'processed', 'failed', 'ignored')),
        CONSTRAINT webhook_events_verified_by_check CHECK (verified_by IN ('endpoint', 'platform')),
        CONSTRAINT webhook_events_attempts_check CHECK (attempts >= 0)
      )`);
    // The sweeper looks for unfinished rows by age; operators filter by status.
    await queryRunner.query(`CREATE INDEX webhook_events_status_received_at_idx ON webhook_events (status, received_at)`);
    await queryRunner.query(`CREATE INDEX webhook_events_tenant_received_at_idx ON webhook_events (tenant_id, received_at DESC, id DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE webhook_events`);
  }
}
