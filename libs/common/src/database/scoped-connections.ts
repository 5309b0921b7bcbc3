import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { DatabaseScope, TENANT_SETTING } from './database-roles';

/** The scope last applied to a pooled pg client, kept on the client so a checkout in the same scope costs no round trip. */
const APPLIED_SCOPE = Symbol('appliedDatabaseScope');
/** The scope function of a driver whose checkout is wrapped already. */
const SCOPE_OF = Symbol('databaseScopeOf');

interface ScopedClient {
  [APPLIED_SCOPE]?: string;
  query(text: string, values: unknown[]): Promise<unknown>;
}

/**
 * Make every connection the DataSource checks out of its pool run in the
 * scope `scopeOf` returns at checkout: its role and the tenant setting the
 * row-level security policies read. Checkout is where every query runner, a
 * transaction's or a single repository call's, gets its connection, and it
 * happens in the async context of the code that queries, so the scope follows
 * the request or job. A client already in that scope is handed out as is;
 * otherwise one extra statement sets both values before the first query (and
 * before BEGIN, so never inside a transaction). Calling it again on the same
 * DataSource replaces `scopeOf`.
 */
export function scopeConnections(dataSource: DataSource, scopeOf: () => DatabaseScope): void {
  const driver = dataSource.driver as PostgresDriver & { [SCOPE_OF]?: () => DatabaseScope };
  const wrapped = driver[SCOPE_OF] !== undefined;
  driver[SCOPE_OF] = scopeOf;
  if (wrapped) {
    return;
  }

  const obtainMasterConnection = driver.obtainMasterConnection.bind(driver);
  driver.obtainMasterConnection = async (): Promise<[unknown, (error?: unknown) => void]> => {
    const scope = (driver[SCOPE_OF] ?? scopeOf)();
    const [client, release] = (await obtainMasterConnection()) as [ScopedClient, (error?: unknown) => void];
    const key = `${scope.role}/${scope.tenantId}`;
    if (client[APPLIED_SCOPE] === key) {
      return [client, release];
    }

    try {
      // is_local = false: the values outlive any transaction, until the next checkout changes them.
      await client.query(`SELECT set_config('role', $1, false), set_config('${TENANT_SETTING}', $2, false)`, [scope.role, scope.tenantId]);
    } catch (error) {
      // The pool destroys a client released with an error, so no client in an unknown scope goes back.
      release(error);
      throw error;
    }
    client[APPLIED_SCOPE] = key;

    return [client, release];
  };
}
