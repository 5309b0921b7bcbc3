import { MigrationInterface, QueryRunner } from "typeorm";
import { CROSS_TENANT_ROLE } from "./support/row-level-security";

/**
 * The Stripe account (`acct_…`) a customer was created in. A tenant may
 * disconnect and connect another account, where the customer's Stripe id
 * does not exist, so finalize compares this column with the connected
 * account before it takes a number.
 *
 * Existing rows are filled where the account can be known: from the current
 * connection for customers created since it was connected (editing keys,
 * even to the other mode, keeps the account), otherwise from the `stripe.connected` audit entry
 * that last preceded the customer. The rest stay NULL, and finalize cannot
 * check their account.
 */
export class AddCustomerStripeAccount1764912000000 implements MigrationInterface {
  name = "AddCustomerStripeAccount1764912000000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE customers ADD COLUMN stripe_account_id text`);

    // The tables force row-level security, which binds a migrating owner that is not a superuser.
    await queryRunner.query(`SET LOCAL ROLE ${CROSS_TENANT_ROLE}`);
    await queryRunner.query(
      `UPDATE customers c SET stripe_account_id = sc.account_id
         FROM stripe_connections sc
        WHERE sc.tenant_id = c.tenant_id
          AND sc.account_id IS NOT NULL
          AND c.created_at >= sc.connected_at`,
    );
    await queryRunner.query(
      `UPDATE customers c SET stripe_account_id = (
           SELECT a.details ->> 'accountId'
             FROM audit_log a
            WHERE a.tenant_id = c.tenant_id
              AND a.action = 'stripe.connected'
              AND a.at <= c.created_at
            ORDER BY a.at DESC, a.id DESC
            LIMIT 1)
        WHERE c.stripe_account_id IS NULL`,
    );
    await queryRunner.query(`RESET ROLE`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE customers DROP COLUMN stripe_account_id`);
  }
}
