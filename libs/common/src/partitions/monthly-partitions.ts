/**
 * The monthly RANGE partitions of the partitioned tables, their names and
 * bounds, and what makes a row still needed. The migrations that partitioned
 * the tables (src/database/initial-monthly-partitions.ts) use the same names
 * and bounds.
 */

/** One UTC calendar month. `month` is 1 to 12. */
export interface Month {
  year: number;
  month: number;
}

export interface PartitionedTable {
  /** The partitioned parent, e.g. `webhook_events`. */
  table: string;
  /** The partition key's type: epoch seconds (bigint) or timestamptz. */
  keyKind: 'epoch' | 'timestamptz';
  /** The partition key column. */
  keyColumn: string;
  /**
   * A condition on a row that keeps it, given the cutoff as parameter $1
   * (timestamptz): the row is not finished, or it was active after the cutoff.
   */
  neededRowSql: string;
}

/**
 * Inbox rows stay while they are not finished (received, processing) or
 * failed, and for the retention after their last activity: receipt, last job
 * (intake or replay) or finish. A failed row never expires by age; see
 * docs/operations.md.
 */
export const WEBHOOK_EVENTS: PartitionedTable = {
  table: 'webhook_events',
  keyKind: 'epoch',
  keyColumn: 'stripe_created',
  neededRowSql: `status NOT IN ('processed', 'ignored') OR greatest(received_at, queued_at, processed_at) >= $1`,
};

/** Outbox rows stay until they are published, and for the retention after that. */
export const OUTBOX_EVENTS: PartitionedTable = {
  table: 'outbox_events',
  keyKind: 'timestamptz',
  keyColumn: 'created_at',
  neededRowSql: `published_at IS NULL OR published_at >= $1`,
};

export const PARTITIONED_TABLES: readonly PartitionedTable[] = [WEBHOOK_EVENTS, OUTBOX_EVENTS];

export function monthOf(date: Date): Month {
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1 };
}

export function addMonths(month: Month, count: number): Month {
  const index = month.year * 12 + (month.month - 1) + count;

  return { year: Math.floor(index / 12), month: (index % 12) + 1 };
}

export function monthStart(month: Month): Date {
  return new Date(Date.UTC(month.year, month.month - 1, 1));
}

/** `webhook_events_p2026_12`: the name the migrations and the partition job give a month's partition. */
export function partitionName(table: string, month: Month): string {
  return `${table}_p${month.year}_${String(month.month).padStart(2, '0')}`;
}

export function defaultPartitionName(table: string): string {
  return `${table}_default`;
}

/** Parse the month from a partition name; null for a name the partition job did not make. */
export function monthOfPartition(table: string, name: string): Month | null {
  const match = new RegExp(`^${table}_p(\\d{4})_(\\d{2})$`).exec(name);
  if (!match) {
    return null;
  }

  const month = Number(match[2]);

  return month >= 1 && month <= 12 ? { year: Number(match[1]), month } : null;
}

/** Format a partition bound as an SQL literal of the table's key type: epoch seconds, or a UTC timestamptz. */
export function boundLiteral(table: PartitionedTable, date: Date): string {
  return table.keyKind === 'epoch' ? String(Math.floor(date.getTime() / 1000)) : `'${date.toISOString()}'`;
}

/** Convert a partition bound to a query parameter of the table's key type. */
export function boundValue(table: PartitionedTable, date: Date): number | string {
  return table.keyKind === 'epoch' ? Math.floor(date.getTime() / 1000) : date.toISOString();
}
