import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { describeError } from '../logging/error-description';
import {
  Month,
  PARTITIONED_TABLES,
  PartitionedTable,
  addMonths,
  boundLiteral,
  boundValue,
  defaultPartitionName,
  monthOf,
  monthOfPartition,
  monthStart,
  partitionName,
} from './monthly-partitions';
import { PARTITION_OWNER_DATA_SOURCE } from './partitions.options';

/** Months created ahead of the current one; a month is created at least this long before its first row. */
export const MONTHS_AHEAD = 3;
/** Rows deleted from a default partition per statement, so no statement of a run keeps a long transaction open. */
const DEFAULT_PARTITION_DELETE_BATCH = 5_000;
/** A partition job gives up on a lock after this long and tries again at its next run. */
const LOCK_TIMEOUT = '10s';
/**
 * DETACH waits for ACCESS EXCLUSIVE on the parent, and while it waits every new
 * insert into the table queues behind it, so a drop gives up quickly instead.
 */
const DETACH_LOCK_TIMEOUT = '1s';
/** Advisory lock namespace of the partition job; the second key is hashtext() of the table name. */
const ADVISORY_LOCK_CLASS = 7_310_042;

export interface EnsureResult {
  created: string[];
  /** Months left to the default partition because the default partition already contains rows of that month. */
  skipped: string[];
}

export interface RetentionResult {
  dropped: string[];
  /** Expired by age but still holding rows that are needed (unfinished, failed or recently active). */
  kept: string[];
  /** Rows deleted from the default partitions. */
  deletedFromDefault: number;
}

/**
 * Creates monthly partitions ahead and drops expired ones. Each step on a
 * table runs in its own transaction under a transaction-level advisory lock
 * on that table, so two workers running the job at once take turns. Each step
 * reads the catalog after taking the lock, so the second worker finds the work
 * done. The job never moves rows between partitions.
 */
@Injectable()
export class PartitionMaintenanceService {
  private readonly logger = new Logger(PartitionMaintenanceService.name);

  /** `dataSource` must connect as the owner of the partitioned tables (PARTITION_OWNER_DATA_SOURCE in the module). */
  constructor(@Inject(PARTITION_OWNER_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /** Create the partitions of the month of `now` and the MONTHS_AHEAD months after it, for every partitioned table. */
  async ensurePartitions(now: Date = new Date(), monthsAhead = MONTHS_AHEAD): Promise<EnsureResult> {
    const result: EnsureResult = { created: [], skipped: [] };
    const first = monthOf(now);
    for (const table of PARTITIONED_TABLES) {
      for (let offset = 0; offset <= monthsAhead; offset++) {
        const outcome = await this.ensureMonth(table, addMonths(first, offset));
        if (outcome.created) {
          result.created.push(outcome.name);
        } else if (outcome.skipped) {
          result.skipped.push(outcome.name);
        }
      }
    }

    if (result.created.length > 0) {
      this.logger.log({ created: result.created }, 'Created monthly partitions');
    }

    return result;
  }

  /**
   * Drop (DETACH, then DROP) every monthly partition whose whole month ended
   * before `now - retentionDays` and that contains no needed row, and delete
   * expired rows from the default partitions.
   */
  async dropExpired(retentionDays: number, now: Date = new Date()): Promise<RetentionResult> {
    const cutoff = new Date(now.getTime() - retentionDays * 24 * 60 * 60 * 1000);
    const result: RetentionResult = { dropped: [], kept: [], deletedFromDefault: 0 };
    for (const table of PARTITIONED_TABLES) {
      for (const partition of await this.monthlyPartitions(table)) {
        if (monthStart(addMonths(partition.month, 1)) > cutoff) {
          continue;
        }

        const outcome = await this.dropIfExpired(table, partition.name, cutoff);
        if (outcome === 'dropped') {
          result.dropped.push(partition.name);
        } else if (outcome === 'kept') {
          result.kept.push(partition.name);
        }
      }
      result.deletedFromDefault += await this.deleteExpiredDefaultRows(table, cutoff);
    }

    if (result.dropped.length > 0 || result.deletedFromDefault > 0) {
      this.logger.log({ ...result, retentionDays, cutoff: cutoff.toISOString() }, 'Dropped expired partitions');
    }
    if (result.kept.length > 0) {
      this.logger.warn(
        { kept: result.kept, retentionDays },
        'Expired partitions kept: they hold unfinished or failed events, or unpublished outbox rows. Replay or resolve the failed events to let them go.',
      );
    }

    return result;
  }

  private async ensureMonth(table: PartitionedTable, month: Month): Promise<{ name: string; created: boolean; skipped: boolean }> {
    const name = partitionName(table.table, month);
    const from = monthStart(month);
    const to = monthStart(addMonths(month, 1));

    return this.underTableLock(table, async (manager) => {
      if (await this.relationExists(manager, name)) {
        return { name, created: false, skipped: false };
      }

      // PostgreSQL rejects a new partition whose rows are in the default partition; moving them is an operator's decision.
      const [{ waiting }]: { waiting: boolean }[] = await manager.query(
        `SELECT EXISTS (SELECT 1 FROM ${defaultPartitionName(table.table)} WHERE ${table.keyColumn} >= $1 AND ${table.keyColumn} < $2) AS waiting`,
        [boundValue(table, from), boundValue(table, to)],
      );
      if (waiting) {
        this.logger.warn(
          { table: table.table, partition: name, defaultPartition: defaultPartitionName(table.table) },
          'Monthly partition not created: the default partition already holds rows of that month; see docs/operations.md',
        );

        return { name, created: false, skipped: true };
      }

      await manager.query(
        `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF ${table.table} FOR VALUES FROM (${boundLiteral(table, from)}) TO (${boundLiteral(table, to)})`,
      );

      return { name, created: true, skipped: false };
    });
  }

  /** `gone` when another run dropped the partition first. */
  private async dropIfExpired(table: PartitionedTable, name: string, cutoff: Date): Promise<'dropped' | 'kept' | 'gone'> {
    try {
      return await this.underTableLock(table, async (manager) => {
        if (!(await this.relationExists(manager, name))) {
          return 'gone';
        }

        // Writers to this partition (a replay, a late redelivery) wait until the decision is made.
        // NOTE: DETACH then locks the parent. A writer that holds the parent and waits for this partition
        // makes a deadlock; PostgreSQL aborts one side, and an aborted drop is tried again at the next run.
        await manager.query(`LOCK TABLE ${name} IN SHARE ROW EXCLUSIVE MODE`);
        const [{ needed }]: { needed: boolean }[] = await manager.query(`SELECT EXISTS (SELECT 1 FROM ${name} WHERE ${table.neededRowSql}) AS needed`, [
          cutoff.toISOString(),
        ]);
        if (needed) {
          return 'kept';
        }

        await manager.query(`SET LOCAL lock_timeout = '${DETACH_LOCK_TIMEOUT}'`);
        await manager.query(`ALTER TABLE ${table.table} DETACH PARTITION ${name}`);
        await manager.query(`DROP TABLE ${name}`);

        return 'dropped';
      });
    } catch (error) {
      this.logger.warn({ table: table.table, partition: name, err: describeError(error) }, 'Failed to drop an expired partition; the next run tries again');

      return 'kept';
    }
  }

  /** Delete, in batches, default-partition rows whose key is before the cutoff and that are no longer needed. */
  private async deleteExpiredDefaultRows(table: PartitionedTable, cutoff: Date): Promise<number> {
    const partition = defaultPartitionName(table.table);
    let deleted = 0;
    for (;;) {
      const [, count]: [unknown, number] = await this.dataSource.query(
        `DELETE FROM ${partition}
          WHERE ctid = ANY (ARRAY(
                SELECT ctid FROM ${partition}
                 WHERE ${table.keyColumn} < $2 AND NOT (${table.neededRowSql})
                 LIMIT ${DEFAULT_PARTITION_DELETE_BATCH}))`,
        [cutoff.toISOString(), boundValue(table, cutoff)],
      );
      deleted += count;
      if (count < DEFAULT_PARTITION_DELETE_BATCH) {
        return deleted;
      }
    }
  }

  private async monthlyPartitions(table: PartitionedTable): Promise<Array<{ name: string; month: Month }>> {
    const rows: { name: string }[] = await this.dataSource.query(
      `SELECT child.relname AS name
         FROM pg_inherits
         JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        WHERE pg_inherits.inhparent = $1::regclass
        ORDER BY child.relname`,
      [table.table],
    );

    return rows.flatMap((row) => {
      const month = monthOfPartition(table.table, row.name);

      return month ? [{ name: row.name, month }] : [];
    });
  }

  private async relationExists(manager: EntityManager, name: string): Promise<boolean> {
    const [{ found }]: { found: boolean }[] = await manager.query(`SELECT to_regclass($1) IS NOT NULL AS found`, [name]);

    return found;
  }

  private underTableLock<T>(table: PartitionedTable, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      await manager.query(`SELECT pg_advisory_xact_lock($1::int, hashtext($2))`, [ADVISORY_LOCK_CLASS, table.table]);

      return work(manager);
    });
  }
}
