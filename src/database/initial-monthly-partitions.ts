import { QueryRunner } from 'typeorm';

/**
 * Create `<table>_pYYYY_MM` for every UTC month from the month of the
 * timestamptz `oldestSql` returns (at most 12 months back; the current month
 * when it returns NULL) to three months ahead. `bounds` is the partition key's
 * kind: epoch seconds or timestamptz. Month arithmetic runs on UTC timestamps
 * without time zone, so the session's TimeZone cannot shift a boundary.
 *
 * Used by the migrations that partition a table. The worker's partition job
 * (libs/common/src/partitions) creates later months with the same names and
 * bounds.
 */
export async function createInitialMonthlyPartitions(queryRunner: QueryRunner, table: string, oldestSql: string, bounds: 'epoch' | 'timestamptz'): Promise<void> {
  const bound = (month: string) =>
    bounds === 'epoch' ? `extract(epoch FROM (${month}) AT TIME ZONE 'UTC')::bigint` : `quote_literal(to_char(${month}, 'YYYY-MM-DD') || ' 00:00:00+00')`;

  await queryRunner.query(`
    DO $$
    DECLARE
      current_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
      oldest timestamp := date_trunc('month', (${oldestSql}) AT TIME ZONE 'UTC');
      month timestamp;
    BEGIN
      month := least(greatest(coalesce(oldest, current_month), current_month - interval '12 months'), current_month);
      WHILE month <= current_month + interval '3 months' LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF ${table} FOR VALUES FROM (%s) TO (%s)',
          '${table}_p' || to_char(month, 'YYYY_MM'),
          ${bound('month')},
          ${bound(`month + interval '1 month'`)});
        month := month + interval '1 month';
      END LOOP;
    END
    $$`);
}
