import { createHash } from 'node:crypto';
import { DatabaseError, type PoolClient, type QueryResultRow } from 'pg';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * Run one statement as a named prepared statement on a pooled connection.
 * PostgreSQL parses and plans it once per connection and then reuses the
 * plan, while an unnamed statement is planned on every call. Measured alone,
 * this took about 40 % off the two writes of a payment (docs/benchmarks.md).
 * TypeORM's query runner is skipped too. The connection comes from the
 * driver's obtainMasterConnection, so it carries the role and tenant scope
 * that row-level security reads, and a unit of work's shared connection is
 * taken as for any other query.
 *
 * `name` defaults to one derived from the text, so statements composed from
 * parts get one name per distinct text. Use it only for statements whose plan
 * does not depend on the values, such as lookups and writes by key: after
 * five calls PostgreSQL may keep one generic plan for all values.
 *
 * A migration that changes the columns a prepared statement returns, such as
 * a column added to a table it reads with `*`, makes PostgreSQL reject the
 * statement on every connection that prepared it. Such a connection is
 * discarded and the statement runs again unprepared, so the first call on each
 * connection after the migration costs a retry and no call fails.
 *
 * Errors come as TypeORM's QueryFailedError, as from EntityManager.query. A
 * statement PostgreSQL rejected leaves the connection usable, so it goes back
 * to the pool. Any other failure discards the connection.
 */
export async function queryPrepared<Row>(dataSource: DataSource, text: string, values: unknown[], name = preparedStatementName(text)): Promise<Row[]> {
  try {
    return await queryOnce<Row>(dataSource, { name, text, values });
  } catch (error) {
    if (!isStalePreparedStatement(error)) {
      throw error;
    }

    return queryOnce<Row>(dataSource, { text, values });
  }
}

async function queryOnce<Row>(dataSource: DataSource, query: { name?: string; text: string; values: unknown[] }): Promise<Row[]> {
  const [client, release] = (await (dataSource.driver as PostgresDriver).obtainMasterConnection()) as [PoolClient, (error?: unknown) => void];
  let rows: QueryResultRow[];
  try {
    ({ rows } = await client.query(query));
  } catch (error) {
    // The statement stays prepared on the connection whatever its plan, so only a new connection drops it.
    const reusable = error instanceof DatabaseError && !isStalePreparedStatement(error);
    release(reusable ? undefined : error);
    throw new QueryFailedError(query.text, query.values, error as Error);
  }
  release();

  return rows as Row[];
}

/** Tell whether PostgreSQL rejected a prepared statement because its result columns changed since it was prepared. */
function isStalePreparedStatement(error: unknown): boolean {
  const driverError = error instanceof QueryFailedError ? (error.driverError as unknown) : error;

  // Matched by the raising routine, because lc_messages may translate the message.
  return driverError instanceof DatabaseError && driverError.code === '0A000' && driverError.routine === 'RevalidateCachedQuery';
}

/**
 * Run a statement through `manager`: prepared (queryPrepared) when the manager
 * belongs to no transaction, else on the transaction's connection as usual.
 */
export function queryThrough<Row>(manager: EntityManager, text: string, values: unknown[]): Promise<Row[]> {
  return manager.queryRunner === undefined ? queryPrepared<Row>(manager.connection, text, values) : manager.query(text, values);
}

/** Derive a statement name from `text` alone, within PostgreSQL's limit of 63 bytes on names. */
export function preparedStatementName(text: string): string {
  return `q_${createHash('sha256').update(text).digest('base64url').slice(0, 32)}`;
}
