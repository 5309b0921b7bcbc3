import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenancy: tenants, users and their memberships, API tokens, browser sessions,
 * the audit log, and the failed-login record behind RATE_LIMIT_LOGIN.
 * Tokens and session ids are stored only as SHA-256 hex digests.
 */
export class CreateTenancy1764900001000 implements MigrationInterface {
  name = 'CreateTenancy1764900001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE EXTENSION IF NOT EXISTS pgcrypto`);

    await queryRunner.query(`
      CREATE TABLE tenants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug text NOT NULL,
        name text NOT NULL,
        time_zone text NOT NULL DEFAULT 'America/Chicago',
        live_mode_allowed boolean NOT NULL DEFAULT false,
        status text NOT NULL DEFAULT 'active',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tenants_slug_key UNIQUE (slug),
        CONSTRAINT tenants_slug_check CHECK (slug ~ '^[a-z0-9-]{2,63}$'),
        CONSTRAINT tenants_status_check CHECK (status IN ('active'))
      )`);
    await queryRunner.query(`CREATE INDEX tenants_created_at_idx ON tenants (created_at DESC, id DESC)`);

    // One row per login identity. A tenant user's identity may hold memberships
    // in several tenants; an operator is a separate identity with no membership.
    await queryRunner.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        password_hash text NOT NULL,
        is_operator boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_lower_check CHECK (email = lower(email))
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX users_operator_email_key ON users (email) WHERE is_operator`);
    await queryRunner.query(`CREATE UNIQUE INDEX users_tenant_user_email_key ON users (email) WHERE NOT is_operator`);

    await queryRunner.query(`
      CREATE TABLE memberships (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        user_id uuid NOT NULL REFERENCES users(id),
        role text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT memberships_tenant_user_key UNIQUE (tenant_id, user_id),
        CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'staff'))
      )`);
    await queryRunner.query(`CREATE INDEX memberships_user_id_idx ON memberships (user_id)`);

    await queryRunner.query(`
      CREATE TABLE api_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid REFERENCES tenants(id),
        role text NOT NULL,
        label text NOT NULL,
        token_hash text NOT NULL,
        last_used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash),
        CONSTRAINT api_tokens_role_check CHECK (role IN ('owner', 'admin', 'staff', 'operator')),
        CONSTRAINT api_tokens_tenant_check CHECK ((role = 'operator') = (tenant_id IS NULL))
      )`);
    await queryRunner.query(`CREATE INDEX api_tokens_created_at_idx ON api_tokens (created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX api_tokens_tenant_created_at_idx ON api_tokens (tenant_id, created_at DESC, id DESC)`);

    await queryRunner.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        token_hash text NOT NULL,
        user_id uuid NOT NULL REFERENCES users(id),
        tenant_id uuid REFERENCES tenants(id),
        role text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
        CONSTRAINT sessions_role_check CHECK (role IN ('owner', 'admin', 'staff', 'operator')),
        CONSTRAINT sessions_tenant_check CHECK ((role = 'operator') = (tenant_id IS NULL))
      )`);
    await queryRunner.query(`CREATE INDEX sessions_user_id_idx ON sessions (user_id, expires_at)`);

    // clock_timestamp(), not now(): entries written in one transaction get
    // distinct, ordered times, which the newest-first listing relies on.
    await queryRunner.query(`
      CREATE TABLE audit_log (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid REFERENCES tenants(id),
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor_kind text NOT NULL,
        actor_id text,
        actor_label text NOT NULL,
        action text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        CONSTRAINT audit_log_actor_kind_check CHECK (actor_kind IN ('user', 'token', 'operator', 'system'))
      )`);
    await queryRunner.query(`CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX audit_log_tenant_at_idx ON audit_log (tenant_id, at DESC, id DESC)`);

    // account_key is `<tenant slug>:<email>`, or `:<email>` for operators, so an
    // unknown account is limited exactly like a known one.
    await queryRunner.query(`
      CREATE TABLE login_failures (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_key text NOT NULL,
        failed_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`CREATE INDEX login_failures_account_idx ON login_failures (account_key, failed_at)`);
    await queryRunner.query(`CREATE INDEX login_failures_failed_at_idx ON login_failures (failed_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE login_failures`);
    await queryRunner.query(`DROP TABLE audit_log`);
    await queryRunner.query(`DROP TABLE sessions`);
    await queryRunner.query(`DROP TABLE api_tokens`);
    await queryRunner.query(`DROP TABLE memberships`);
    await queryRunner.query(`DROP TABLE users`);
    await queryRunner.query(`DROP TABLE tenants`);
  }
}
