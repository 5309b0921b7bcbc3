import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreatePayments1764900003000 implements MigrationInterface {
  name = 'CreatePayments1764900003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE payments (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        status text NOT NULL
          CHECK (status IN ('processing', 'requires_action', 'failed', 'succeeded', 'partially_refunded', 'refunded')),
        amount bigint NOT NULL CHECK (amount > 0),
        amount_refunded bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0 AND amount_refunded <= amount),
        currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
        description text,
        receipt_email text,
        receipt_url text,
        livemode boolean NOT NULL,
        stripe_payment_intent_id text,
        stripe_charge_id text,
        failure_code text,
        decline_code text,
        client_secret text,
        next_action jsonb,
        invoice_id uuid,
        customer_id uuid,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        last_stripe_event_created bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // NULLs are distinct in a unique index, so rows still waiting for Stripe's response do not collide.
    await queryRunner.query(
      `CREATE UNIQUE INDEX payments_tenant_payment_intent_key ON payments (tenant_id, stripe_payment_intent_id)`,
    );
    await queryRunner.query(`CREATE INDEX payments_tenant_created_idx ON payments (tenant_id, created_at DESC, id DESC)`);
    await queryRunner.query(
      `CREATE INDEX payments_tenant_status_created_idx ON payments (tenant_id, status, created_at DESC, id DESC)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE payments`);
  }
}
