import { escapeLiteral } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { DatabaseScope, TENANT_SETTING } from './database-roles';

/** The scope last applied to a pooled pg client, kept on the client so a checkout in the same scope costs no round trip. */
const APPLIED_SCOPE = Symbol('appliedDatabaseScope');
/** The scope a checkout must apply before the client's next statement. */
const PENDING_SCOPE = Symbol('pendingDatabaseScope');
/** The scope applied inside the client's open transaction, which a ROLLBACK would revert. */
const UNCOMMITTED_SCOPE = Symbol('uncommittedDatabaseScope');
/** The client's own query method, which the scoped one wraps. */
const UNSCOPED_QUERY = Symbol('unscopedQuery');
/** The scope function of a driver whose checkout is wrapped already. */
const SCOPE_OF = Symbol('databaseScopeOf');
/** The function that returns the shared connection of the current unit of work, if any. */
const SHARED_OF = Symbol('sharedConnectionOf');

const SET_SCOPE_SQL = `SELECT set_config('role', $1, false), set_config('${TENANT_SETTING}', $2, false)`;
/** The statement TypeORM begins a transaction with (PostgresQueryRunner.startTransaction). */
const START_TRANSACTION = 'START TRANSACTION';

type QueryCallback = (error: Error | null, result?: unknown) => void;
type QueryFunction = (config: unknown, values?: unknown, callback?: QueryCallback) => unknown;

interface ScopeToApply {
  key: string;
  scope: DatabaseScope;
}

interface ScopedClient {
  [APPLIED_SCOPE]?: string;
  [PENDING_SCOPE]?: ScopeToApply;
  [UNCOMMITTED_SCOPE]?: ScopeToApply;
  [UNSCOPED_QUERY]?: QueryFunction;
  query: QueryFunction;
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
 * the request or job. A client already in that scope is handed out as is.
 * Otherwise the scope is applied before the checkout's first statement: in
 * the same round trip when that statement is START TRANSACTION, else by one
 * set_config statement first. Inside a unit of work, a checkout in the
 * work's scope takes the connection `sharedOf` returns, when it is free.
 * Calling it again on the same DataSource replaces `scopeOf` and `sharedOf`.
 */
export function scopeConnections(
  dataSource: DataSource,
  scopeOf: () => DatabaseScope,
  sharedOf: () => SharedConnection | undefined = () => undefined,
): void {
  const driver = dataSource.driver as ScopedDriver;
  const wrapped = driver[SCOPE_OF] !== undefined;
  driver[SCOPE_OF] = scopeOf;
  driver[SHARED_OF] = sharedOf;
  if (wrapped) {
    return;
  }

  const obtainMasterConnection = driver.obtainMasterConnection.bind(driver);
  driver.obtainMasterConnection = async (): Promise<[unknown, (error?: unknown) => void]> => {
    const scope = (driver[SCOPE_OF] ?? scopeOf)();
    const key = scopeKey(scope);
    const shared = driver[SHARED_OF]?.()?.take(key);
    if (shared) {
      return shared;
    }

    preferIdleClientInScope(driver.master as PoolInternals | undefined, key);
    const [client, release] = (await obtainMasterConnection()) as [ScopedClient, (error?: unknown) => void];
    if (client[APPLIED_SCOPE] === key) {
      return [client, release];
    }

    installScopedQuery(client);
    client[APPLIED_SCOPE] = undefined;
    client[PENDING_SCOPE] = { key, scope };

    return [client, (error?: unknown) => releaseScoped(client, release, error)];
  };
}

type ScopedDriver = PostgresDriver & { [SCOPE_OF]?: () => DatabaseScope; [SHARED_OF]?: () => SharedConnection | undefined };

function scopeKey(scope: DatabaseScope): string {
  return `${scope.role}/${scope.tenantId}`;
}

/**
 * One pooled connection that the checkouts of a unit of work take in turn, so
 * a job that runs many short statements and transactions for one tenant
 * applies the tenant's scope once and waits on the pool once. One query runner
 * at a time uses it. A checkout while it is in use, in another scope, or after
 * a connection error goes to the pool as usual, so nested and concurrent
 * transactions keep their own connections.
 */
export class SharedConnection {
  private inUse = false;
  private released = false;
  private failure: unknown = undefined;

  constructor(
    private readonly key: string,
    private readonly client: unknown,
    private readonly releaseClient: (error?: unknown) => void,
  ) {}

  /** The connection and its release for a checkout in scope `key`, or null when the checkout must use the pool. */
  take(key: string): [unknown, (error?: unknown) => void] | null {
    if (this.inUse || this.released || this.failure !== undefined || key !== this.key) {
      return null;
    }

    this.inUse = true;

    return [
      this.client,
      (error?: unknown) => {
        this.inUse = false;
        if (error) {
          this.failure = error;
        }
      },
    ];
  }

  /**
   * Return the connection to the pool. One still in use by a query runner, or
   * released after an error, is handed back with an error so the pool
   * discards it rather than reuse a connection in an unknown state.
   */
  release(): void {
    if (this.released) {
      return;
    }

    this.released = true;
    const failure = this.failure ?? (this.inUse ? new Error('A shared database connection was released while a query runner was still using it') : undefined);
    this.releaseClient(failure);
  }
}

/** Check out one connection in the current scope, for the checkouts of a unit of work to share (SharedConnection). */
export async function checkOutSharedConnection(dataSource: DataSource): Promise<SharedConnection> {
  const driver = dataSource.driver as ScopedDriver;
  const scopeOf = driver[SCOPE_OF];
  if (scopeOf === undefined) {
    throw new Error('checkOutSharedConnection needs a DataSource whose connections are scoped (scopeConnections)');
  }

  const key = scopeKey(scopeOf());
  const [client, release] = (await driver.obtainMasterConnection()) as [unknown, (error?: unknown) => void];

  return new SharedConnection(key, client, release);
}

/** Wraps the client's query method once, so each statement first applies the scope its checkout left pending. */
function installScopedQuery(client: ScopedClient): void {
  if (client[UNSCOPED_QUERY] !== undefined) {
    return;
  }

  client[UNSCOPED_QUERY] = client.query;
  client.query = function scopedQuery(this: ScopedClient, config: unknown, values?: unknown, callback?: QueryCallback): unknown {
    const unscoped = this[UNSCOPED_QUERY] as QueryFunction;
    if (this[PENDING_SCOPE] === undefined && this[UNCOMMITTED_SCOPE] === undefined) {
      return unscoped.call(this, config, values, callback);
    }

    const done = typeof values === 'function' ? (values as QueryCallback) : callback;
    const result = queryInScope(this, unscoped, config, typeof values === 'function' ? undefined : values);
    if (done === undefined) {
      return result;
    }
    result.then(
      (value) => done(null, value),
      (error: Error) => done(error),
    );

    return undefined;
  };
}

/**
 * Runs one statement of a checkout whose scope is pending or was applied in
 * the open transaction. A set_config inside a transaction is undone by its
 * ROLLBACK, so after anything but a successful COMMIT the scope is pending
 * again and the next statement applies it anew.
 */
async function queryInScope(client: ScopedClient, unscoped: QueryFunction, config: unknown, values: unknown): Promise<unknown> {
  const text = typeof config === 'string' ? config : undefined;
  // NOTE: only TypeORM's exact statements count. A transaction ended by other SQL text (END, ABORT) leaves the
  // cached scope wrong until the release, so code that queries on after such a statement must release first.
  const endsTransaction = text === 'COMMIT' || text === 'ROLLBACK';
  const pending = client[PENDING_SCOPE];
  if (pending !== undefined && !endsTransaction) {
    if (isSubmittable(config)) {
      // node-postgres hands a submittable (a cursor or stream) back before it runs, so the scope could not be set first.
      throw new Error('A scoped database connection cannot run a submittable query (cursor or stream) as its first statement');
    }
    if (text === START_TRANSACTION && values === undefined) {
      const results = (await unscoped.call(client, `${START_TRANSACTION}; ${setScopeLiteralSql(pending.scope)}`)) as unknown[];
      client[PENDING_SCOPE] = undefined;
      client[APPLIED_SCOPE] = pending.key;
      client[UNCOMMITTED_SCOPE] = pending;

      return Array.isArray(results) ? results[0] : results;
    }

    await unscoped.call(client, SET_SCOPE_SQL, [pending.scope.role, pending.scope.tenantId]);
    client[PENDING_SCOPE] = undefined;
    client[APPLIED_SCOPE] = pending.key;

    return unscoped.call(client, config, values);
  }

  const uncommitted = client[UNCOMMITTED_SCOPE];
  if (uncommitted === undefined || !endsTransaction) {
    return unscoped.call(client, config, values);
  }

  let result: { command?: string };
  try {
    result = (await unscoped.call(client, config, values)) as { command?: string };
  } catch (error) {
    scopeRolledBack(client, uncommitted);
    throw error;
  }
  // A COMMIT of a failed transaction reports ROLLBACK.
  if (text === 'COMMIT' && result?.command === 'COMMIT') {
    client[UNCOMMITTED_SCOPE] = undefined;
  } else {
    scopeRolledBack(client, uncommitted);
  }

  return result;
}

/** Tells whether `config` is a node-postgres submittable, which `query` returns at once instead of a promise. */
function isSubmittable(config: unknown): boolean {
  return typeof config === 'object' && config !== null && typeof (config as { submit?: unknown }).submit === 'function';
}

function scopeRolledBack(client: ScopedClient, scope: ScopeToApply): void {
  client[UNCOMMITTED_SCOPE] = undefined;
  client[APPLIED_SCOPE] = undefined;
  client[PENDING_SCOPE] = scope;
}

/**
 * Returns a client to the pool with no scope left pending, and with no cached
 * scope unless it was applied outside a transaction or its transaction committed.
 */
function releaseScoped(client: ScopedClient, release: (error?: unknown) => void, error?: unknown): void {
  client[PENDING_SCOPE] = undefined;
  if (client[UNCOMMITTED_SCOPE] !== undefined) {
    client[UNCOMMITTED_SCOPE] = undefined;
    client[APPLIED_SCOPE] = undefined;
  }
  release(error);
}

/** Builds the set_config statement with the scope as literals, for a multi-statement query, which takes no parameters. */
function setScopeLiteralSql(scope: DatabaseScope): string {
  return `SELECT set_config('role', ${escapeLiteral(scope.role)}, false), set_config('${TENANT_SETTING}', ${escapeLiteral(scope.tenantId)}, false)`;
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
