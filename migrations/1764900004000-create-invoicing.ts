import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Invoicing: invoices, their lines, and the per-tenant number sequences.
 * A sequence row per (tenant, mode, year) is bumped with INSERT … ON CONFLICT
 * DO UPDATE inside the transaction that issues the invoice, so the row lock
 * serialises concurrent issues and a rollback gives the number back.
 */
export class CreateInvoicing1764900004000 implements MigrationInterface {
  name = 'CreateInvoicing1764900004000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE invoices (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        number text,
        status text NOT NULL CHECK (status IN ('draft', 'issuing', 'open', 'paid', 'void', 'uncollectible')),
        customer_id uuid,
        payment_id uuid,
        currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
        total bigint NOT NULL CHECK (total >= 0),
        amount_paid bigint NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
        amount_refunded bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
        due_date date,
        livemode boolean NOT NULL,
        hosted_invoice_url text,
        pdf_url text,
        stripe_invoice_id text,
        memo text,
        issued_at timestamptz,
        paid_at timestamptz,
        voided_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT invoices_number_check CHECK (number IS NULL OR number ~ '^INV-[0-9]{4}-[0-9]{5,}$'),
        CONSTRAINT invoices_draft_number_check CHECK (status <> 'draft' OR number IS NULL)
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX invoices_tenant_mode_number_key ON invoices (tenant_id, livemode, number) WHERE number IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX invoices_tenant_payment_key ON invoices (tenant_id, payment_id) WHERE payment_id IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX invoices_tenant_stripe_invoice_key ON invoices (tenant_id, stripe_invoice_id) WHERE stripe_invoice_id IS NOT NULL`,
    );
    await queryRunner.query(`CREATE INDEX invoices_tenant_created_idx ON invoices (tenant_id, created_at DESC, id DESC)`);
    await queryRunner.query(
      `CREATE INDEX invoices_tenant_status_created_idx ON invoices (tenant_id, status, created_at DESC, id DESC)`,
    );

    await queryRunner.query(`
      CREATE TABLE invoice_lines (
        invoice_id uuid NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
        position int NOT NULL CHECK (position >= 1),
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        description text NOT NULL,
        quantity int NOT NULL CHECK (quantity >= 1),
        unit_amount bigint NOT NULL CHECK (unit_amount >= 0),
        amount bigint NOT NULL CHECK (amount >= 0),
        PRIMARY KEY (invoice_id, position)
      )`);

    await queryRunner.query(`
      CREATE TABLE invoice_number_sequences (
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        mode text NOT NULL CHECK (mode IN ('test', 'live')),
        year int NOT NULL CHECK (year BETWEEN 1000 AND 9999),
        last_value int NOT NULL CHECK (last_value >= 1),
        PRIMARY KEY (tenant_id, mode, year)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE invoice_number_sequences`);
    await queryRunner.query(`DROP TABLE invoice_lines`);
    await queryRunner.query(`DROP TABLE invoices`);
  }
}
