import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Refunds of card payments, made through the API or outside the service (in
 * the Stripe Dashboard, learnt from webhooks). A refund belongs to a payment
 * of the same tenant (composite foreign key). `idempotency_key_id` ties a
 * refund, and a payment, to the Idempotency-Key record of the request that
 * created it, so a retry that takes over the key finds the record instead of
 * creating another.
 */
export class CreateRefunds1764902001000 implements MigrationInterface {
  name = 'CreateRefunds1764902001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE payments ADD CONSTRAINT payments_tenant_id_key UNIQUE (tenant_id, id)`);
    await queryRunner.query(`ALTER TABLE payments ADD COLUMN idempotency_key_id uuid`);
    await queryRunner.query(`CREATE UNIQUE INDEX payments_tenant_idempotency_key ON payments (tenant_id, idempotency_key_id)`);
    // Refund events name the charge; this finds its payment.
    await queryRunner.query(`CREATE INDEX payments_tenant_charge_idx ON payments (tenant_id, stripe_charge_id)`);

    await queryRunner.query(`
      CREATE TABLE refunds (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        payment_id uuid NOT NULL,
        amount bigint NOT NULL,
        currency text NOT NULL,
        status text NOT NULL,
        reason text,
        stripe_refund_id text,
        failure_reason text,
        origin text NOT NULL,
        idempotency_key_id uuid,
        last_stripe_event_created bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT refunds_payment_fkey FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
        CONSTRAINT refunds_amount_check CHECK (amount > 0),
        CONSTRAINT refunds_currency_check CHECK (currency ~ '^[a-z]{3}$'),
        CONSTRAINT refunds_status_check CHECK (status IN ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')),
        CONSTRAINT refunds_reason_check CHECK (
          reason IS NULL OR reason IN ('requested_by_customer', 'duplicate', 'fraudulent', 'expired_uncaptured_charge')
        ),
        CONSTRAINT refunds_origin_check CHECK (origin IN ('api', 'stripe'))
      )`);
    // NULLs are distinct in unique indexes, so refunds not yet known to Stripe do not collide.
    await queryRunner.query(`CREATE UNIQUE INDEX refunds_tenant_stripe_refund_key ON refunds (tenant_id, stripe_refund_id)`);
    await queryRunner.query(`CREATE UNIQUE INDEX refunds_tenant_idempotency_key ON refunds (tenant_id, idempotency_key_id)`);
    await queryRunner.query(`CREATE INDEX refunds_tenant_payment_created_idx ON refunds (tenant_id, payment_id, created_at DESC, id DESC)`);
    // The sweeper looks for refunds whose request to Stripe has no answer yet.
    await queryRunner.query(`CREATE INDEX refunds_unsent_created_idx ON refunds (created_at) WHERE status = 'pending' AND stripe_refund_id IS NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE refunds`);
    await queryRunner.query(`DROP INDEX payments_tenant_charge_idx`);
    await queryRunner.query(`DROP INDEX payments_tenant_idempotency_key`);
    await queryRunner.query(`ALTER TABLE payments DROP COLUMN idempotency_key_id`);
    await queryRunner.query(`ALTER TABLE payments DROP CONSTRAINT payments_tenant_id_key`);
  }
}
