import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency-Key records of the HTTP API: one row per (tenant, method, path,
 * key). A row is `running` while the first request with its key runs (until
 * `locked_until`, after which another request may take it over), and `done`
 * once the response is stored for replay. `id` stays the same when a request
 * with the same body takes a released or abandoned key over, so the work it
 * started can be found again by that id; a different body or an expired key
 * gets a new id.
 */
export class CreateIdempotencyKeys1764902000000 implements MigrationInterface {
  name = 'CreateIdempotencyKeys1764902000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE idempotency_keys (
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        method text NOT NULL,
        path text NOT NULL,
        key text NOT NULL,
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        attempt integer NOT NULL DEFAULT 1,
        request_hash text NOT NULL,
        status text NOT NULL,
        lease_token uuid,
        locked_until timestamptz,
        response_status integer,
        response_body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        expires_at timestamptz NOT NULL,
        CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, method, path, key),
        CONSTRAINT idempotency_keys_id_key UNIQUE (id),
        CONSTRAINT idempotency_keys_status_check CHECK (status IN ('running', 'done')),
        CONSTRAINT idempotency_keys_key_check CHECK (char_length(key) BETWEEN 1 AND 255),
        CONSTRAINT idempotency_keys_attempt_check CHECK (attempt >= 1),
        CONSTRAINT idempotency_keys_done_check CHECK (
          status <> 'done' OR (response_status BETWEEN 100 AND 599 AND completed_at IS NOT NULL)
        )
      )`);
    // The purge deletes expired rows oldest first.
    await queryRunner.query(`CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE idempotency_keys`);
  }
}
