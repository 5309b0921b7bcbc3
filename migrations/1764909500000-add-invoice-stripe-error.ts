import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The last error an invoice's Stripe job (issue, send or void) failed with
 * for good, so the API can show why an invoice stays `issuing` instead of
 * leaving the reason in the worker's log alone. All three columns are set
 * together and cleared together when a later job for the invoice succeeds.
 */
export class AddInvoiceStripeError1764909500000 implements MigrationInterface {
  name = "AddInvoiceStripeError1764909500000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE invoices
         ADD COLUMN stripe_error_job text,
         ADD COLUMN stripe_error_code text,
         ADD COLUMN stripe_error_message text,
         ADD COLUMN stripe_error_at timestamptz,
         ADD CONSTRAINT invoices_stripe_error_complete CHECK (
           (stripe_error_code IS NULL AND stripe_error_job IS NULL AND stripe_error_message IS NULL AND stripe_error_at IS NULL)
           OR (stripe_error_code IS NOT NULL AND stripe_error_job IN ('issue', 'send', 'void') AND stripe_error_message IS NOT NULL AND stripe_error_at IS NOT NULL)
         )`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE invoices
         DROP CONSTRAINT invoices_stripe_error_complete,
         DROP COLUMN stripe_error_at,
         DROP COLUMN stripe_error_message,
         DROP COLUMN stripe_error_code,
         DROP COLUMN stripe_error_job`,
    );
  }
}
