import { MigrationInterface, QueryRunner } from 'typeorm';
import { SecurityDefinerFunction, createSecurityDefinerFunctions, dropFunctions } from './support/row-level-security';

const FIND_UNANSWERED: SecurityDefinerFunction = {
  // Payments still processing without a PaymentIntent id, created before p_created_before, oldest first. Only
  // those made under the tenant's current connection and mode: another account or mode cannot show their PaymentIntent.
  signature: 'app_find_unanswered_payments(timestamptz, integer)',
  definition: `
    CREATE FUNCTION app_find_unanswered_payments(p_created_before timestamptz, p_limit integer)
      RETURNS TABLE (tenant_id uuid, id uuid)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
      SELECT payment.tenant_id, payment.id
        FROM payments payment
        JOIN stripe_connections connection ON connection.tenant_id = payment.tenant_id
       WHERE payment.status = 'processing' AND payment.stripe_payment_intent_id IS NULL AND payment.created_at < p_created_before
         AND connection.connected_at <= payment.created_at
         AND (connection.mode = 'live') = payment.livemode
       ORDER BY payment.created_at
       LIMIT p_limit
    $$`,
};

/**
 * Lets the payments sweeper find payments whose create request Stripe never
 * answered (a timeout or a 5xx, and no retry with the same Idempotency-Key),
 * so it can look for their PaymentIntent in Stripe or fail them. The partial
 * index keeps the sweep a short index scan however many payments there are.
 */
export class FindUnansweredPayments1764913000000 implements MigrationInterface {
  name = 'FindUnansweredPayments1764913000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX payments_unanswered_created_at_idx ON payments (created_at)
        WHERE status = 'processing' AND stripe_payment_intent_id IS NULL`,
    );
    await createSecurityDefinerFunctions(queryRunner, [FIND_UNANSWERED]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await dropFunctions(queryRunner, [FIND_UNANSWERED]);
    await queryRunner.query(`DROP INDEX payments_unanswered_created_at_idx`);
  }
}
