import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * B2B billing: customers (created in the tenant's Stripe account), and the invoice columns the
 * background jobs need to issue, send and void invoices in Stripe and to mark them overdue.
 *
 * - `days_until_due`: payment terms of a B2B invoice, 1 to 365 days; null for card payments.
 * - `overdue`: set by the overdue check on open invoices past their due date; only an open
 *   invoice can be overdue.
 * - `stripe_create_attempted_at`: set, and committed, before the issuing job first asks Stripe
 *   to create the invoice. While `stripe_invoice_id` is still null it means a Stripe invoice may
 *   exist, so the job searches Stripe before creating again.
 * - `sent_at`: when Stripe sent the invoice to the customer.
 * - `stripe_void_confirmed_at`: when Stripe was brought in line with a local void (the Stripe
 *   invoice voided, or found never to exist).
 * - `amount_refunded_as_of`: time of the refund event `amount_refunded` comes from, so an older
 *   event delivered late does not overwrite a newer one.
 * - `finalize_idempotency_key_id`: the Idempotency-Key record the finalize ran under, so a retry
 *   that takes over the key after a crash answers with the finalized invoice.
 * - Every invoice but a draft has its number, so a number once assigned stays.
 */
export class AddCustomersAndInvoiceJobs1764903000000 implements MigrationInterface {
  name = 'AddCustomersAndInvoiceJobs1764903000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE customers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
        email text NOT NULL CHECK (length(email) BETWEEN 3 AND 512),
        tax_id_type text,
        tax_id_value text,
        address jsonb CHECK (address IS NULL OR jsonb_typeof(address) = 'object'),
        livemode boolean NOT NULL,
        stripe_customer_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT customers_tax_id_check CHECK ((tax_id_type IS NULL) = (tax_id_value IS NULL))
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX customers_tenant_stripe_customer_key ON customers (tenant_id, stripe_customer_id)`,
    );
    await queryRunner.query(`CREATE INDEX customers_tenant_created_idx ON customers (tenant_id, created_at DESC, id DESC)`);

    await queryRunner.query(`
      ALTER TABLE invoices
        ADD COLUMN days_until_due int CHECK (days_until_due BETWEEN 1 AND 365),
        ADD COLUMN overdue boolean NOT NULL DEFAULT false,
        ADD COLUMN stripe_create_attempted_at timestamptz,
        ADD COLUMN sent_at timestamptz,
        ADD COLUMN stripe_void_confirmed_at timestamptz,
        ADD COLUMN amount_refunded_as_of timestamptz,
        ADD COLUMN finalize_idempotency_key_id uuid,
        ADD CONSTRAINT invoices_overdue_open_check CHECK (NOT overdue OR status = 'open'),
        ADD CONSTRAINT invoices_issued_number_check CHECK (status = 'draft' OR number IS NOT NULL)`);
    // The overdue check scans open invoices that are not overdue yet, by due date.
    await queryRunner.query(
      `CREATE INDEX invoices_overdue_candidates_idx ON invoices (due_date, tenant_id) WHERE status = 'open' AND NOT overdue`,
    );
    // The job sweeper and the reconciliation look for invoices whose Stripe side is unfinished.
    await queryRunner.query(`
      CREATE INDEX invoices_stripe_unfinished_idx ON invoices (updated_at)
        WHERE status = 'issuing'
           OR (status = 'open' AND sent_at IS NULL)
           OR (status = 'void' AND payment_id IS NULL AND stripe_void_confirmed_at IS NULL)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX invoices_stripe_unfinished_idx`);
    await queryRunner.query(`DROP INDEX invoices_overdue_candidates_idx`);
    await queryRunner.query(`
      ALTER TABLE invoices
        DROP CONSTRAINT invoices_issued_number_check,
        DROP CONSTRAINT invoices_overdue_open_check,
        DROP COLUMN finalize_idempotency_key_id,
        DROP COLUMN amount_refunded_as_of,
        DROP COLUMN stripe_void_confirmed_at,
        DROP COLUMN sent_at,
        DROP COLUMN stripe_create_attempted_at,
        DROP COLUMN overdue,
        DROP COLUMN days_until_due`);
    await queryRunner.query(`DROP TABLE customers`);
  }
}
