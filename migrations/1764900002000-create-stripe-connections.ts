import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateStripeConnections1764900002000 implements MigrationInterface {
  name = 'CreateStripeConnections1764900002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // NOTE: no row-level security on this table yet, so tenant isolation rests on
    // the repository filtering every query by tenant_id (or by the webhook token).
    await queryRunner.query(`
      CREATE TABLE stripe_connections (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL UNIQUE REFERENCES tenants(id),
        status text NOT NULL DEFAULT 'not_connected' CHECK (status IN ('not_connected', 'connected', 'error')),
        mode text CHECK (mode IN ('test', 'live')),
        account_id text,
        publishable_key text,
        secret_key_ciphertext text,
        secret_key_key_id text,
        secret_key_prefix text,
        secret_key_last4 text,
        connected_at timestamptz,
        last_verified_at timestamptz,
        last_error_code text,
        last_error_message text,
        last_error_at timestamptz,
        webhook_endpoint_token text NOT NULL UNIQUE CHECK (webhook_endpoint_token ~ '^wh_[A-Za-z0-9]{20,64}$'),
        stripe_webhook_endpoint_id text,
        webhook_registration text CHECK (webhook_registration IN ('automatic', 'manual')),
        endpoint_secret_ciphertext text,
        endpoint_secret_key_id text,
        retired_endpoint_secret_ciphertext text,
        retired_endpoint_secret_key_id text,
        retired_endpoint_secret_kept_until timestamptz,
        disconnected_at timestamptz,
        last_event_at timestamptz,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT stripe_connections_connected_has_keys CHECK (
          status = 'not_connected'
          OR (mode IS NOT NULL AND account_id IS NOT NULL AND publishable_key IS NOT NULL
              AND secret_key_ciphertext IS NOT NULL AND secret_key_key_id IS NOT NULL
              AND secret_key_prefix IS NOT NULL AND secret_key_last4 IS NOT NULL AND connected_at IS NOT NULL)
        ),
        CONSTRAINT stripe_connections_disconnected_has_no_key CHECK (
          status <> 'not_connected' OR (secret_key_ciphertext IS NULL AND secret_key_key_id IS NULL)
        ),
        CONSTRAINT stripe_connections_error_has_last_error CHECK (
          status <> 'error' OR (last_error_code IS NOT NULL AND last_error_at IS NOT NULL)
        ),
        CONSTRAINT stripe_connections_endpoint_secret_pair CHECK (
          (endpoint_secret_ciphertext IS NULL) = (endpoint_secret_key_id IS NULL)
        ),
        CONSTRAINT stripe_connections_retired_secret_complete CHECK (
          (retired_endpoint_secret_ciphertext IS NULL) = (retired_endpoint_secret_key_id IS NULL)
          AND (retired_endpoint_secret_ciphertext IS NULL) = (retired_endpoint_secret_kept_until IS NULL)
        )
      )`);
    // One Stripe account per mode across tenants, among connections that hold its keys.
    await queryRunner.query(`
      CREATE UNIQUE INDEX stripe_connections_account_mode_uniq
        ON stripe_connections (account_id, mode)
        WHERE status IN ('connected', 'error')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE stripe_connections`);
  }
}
