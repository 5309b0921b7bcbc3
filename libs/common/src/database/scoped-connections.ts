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
 * The private fields of a pg-pool 3 Pool that preferIdleClientInScope reads:
 * idle clients, handed out from the end of `_idle`, and the requests waiting
 * for one, served in order. Other versions may lack them.
 */
export interface PoolInternals {
  _idle?: { client: ScopedClient }[];
  _pendingQueue?: unknown[];
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
    const key = `${scope.role}/${scope.tenantId}`;
    preferIdleClientInScope(driver.master as PoolInternals | undefined, key);
    const [client, release] = (await obtainMasterConnection()) as [ScopedClient, (error?: unknown) => void];
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

/**
 * Move an idle client already in scope `key` to the place of the idle list
 * that the next checkout takes, so a worker that alternates tenants reuses a
 * connection of the same tenant instead of paying the set_config statement.
 * Only an optimization: the checkout still checks the scope it gets. It reads
 * pg-pool 3 internals (PoolInternals) and does nothing when they are absent.
 * A release between this call and the checkout can still hand out another
 * client.
 *
 * NOTE: it acts only while the pool has idle clients. A saturated pool hands
 * each released client to the oldest waiting request whatever its scope, and
 * in the end-to-end benchmark (docs/benchmarks.md) the worker's scope switches
 * per event did not go down.
 */
export function preferIdleClientInScope(pool: PoolInternals | undefined, key: string): void {
  const idle = pool?._idle;
  const pending = pool?._pendingQueue;
  if (!Array.isArray(idle) || !Array.isArray(pending)) {
    return;
  }

  // Each request already waiting takes one idle client from the end, so this checkout gets the one `pending.length` places before it.
  const target = idle.length - 1 - pending.length;
  if (target < 0 || idle[target].client[APPLIED_SCOPE] === key) {
    return;
  }

  for (let index = target - 1; index >= 0; index--) {
    if (idle[index].client[APPLIED_SCOPE] === key) {
      [idle[index], idle[target]] = [idle[target], idle[index]];

      return;
    }
  }
}
