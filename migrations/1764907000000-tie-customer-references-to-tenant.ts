import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Payments and invoices may name a customer only of their own tenant. The
 * service used to store a payment's `customerId` as the client sent it, so a
 * payment (and the paid invoice made from it) could point at another
 * tenant's customer or at none. Such references are cleared first, then a
 * foreign key on (tenant_id, customer_id) makes the database refuse them.
 * Foreign key checks bypass row-level security, so the check sees every
 * customer row, and the tenant in the key keeps it within one tenant.
 */
export class TieCustomerReferencesToTenant1764907000000 implements MigrationInterface {
  name = "TieCustomerReferencesToTenant1764907000000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE customers ADD CONSTRAINT customers_tenant_id_id_key UNIQUE (tenant_id, id)`,
    );
    for (const table of ["payments", "invoices"]) {
      await queryRunner.query(
        `UPDATE ${table} SET customer_id = NULL
          WHERE customer_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id = ${table}.tenant_id AND c.id = ${table}.customer_id)`,
      );
      await queryRunner.query(
        `ALTER TABLE ${table} ADD CONSTRAINT ${table}_customer_fkey
           FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)`,
      );
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ["payments", "invoices"]) {
      await queryRunner.query(
        `ALTER TABLE ${table} DROP CONSTRAINT ${table}_customer_fkey`,
      );
    }
    await queryRunner.query(
      `ALTER TABLE customers DROP CONSTRAINT customers_tenant_id_id_key`,
    );
  }
}
