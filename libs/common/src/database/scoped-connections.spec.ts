import { DataSource } from 'typeorm';
import { APP_ROLE, CROSS_TENANT_ROLE, DatabaseScope } from './database-roles';
import { PoolInternals, SharedConnection, preferIdleClientInScope, scopeConnections } from './scoped-connections';

const TENANT_A = '0b8f5c3e-6a55-4c2e-9d4e-6f0a1b2c3d4e';
const TENANT_B = '7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6';
const TENANT_C = 'c3a9e1f0-2b4d-4e6f-8a0b-1c2d3e4f5a6b';

/**
 * Builds a fake pool that hands out one client on every checkout. The client
 * records the statements it runs and returns each statement's first word as
 * its command, as node-postgres does.
 */
function fakePool(options: { failSetConfig?: boolean } = {}) {
  const client = {
    statements: [] as { text: string; values: unknown }[],
    async query(text: string, values?: unknown): Promise<unknown> {
      this.statements.push({ text, values });
      if (typeof text !== 'string') {
        return { rows: [], command: 'SELECT' };
      }
      if (options.failSetConfig && text.includes('set_config')) {
        throw new Error('connection terminated');
      }

      return { rows: [], command: text.split(' ')[0] };
    },
  };
  const release = jest.fn();
  const driver = { obtainMasterConnection: jest.fn(async () => [client, release]) };
  const dataSource = { driver } as unknown as DataSource;

  return { client, release, driver, dataSource };
}

interface CheckedOut {
  client: { query(text: unknown, values?: unknown): Promise<unknown> };
  release: (error?: unknown) => void;
}

async function checkOut(driver: { obtainMasterConnection: () => Promise<unknown> }): Promise<CheckedOut> {
  const [client, release] = (await driver.obtainMasterConnection()) as [CheckedOut['client'], CheckedOut['release']];

  return { client, release };
}

/** Checks out a connection, runs one statement on it and releases it. */
async function runOne(driver: { obtainMasterConnection: () => Promise<unknown> }, text = 'SELECT 1'): Promise<void> {
  const { client, release } = await checkOut(driver);
  await client.query(text, []);
  release();
}

const SELECT_ONE = { text: 'SELECT 1', values: [] };

describe('scopeConnections', () => {
  it('sets role and tenant before the first statement', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    const checkedOut = await checkOut(driver);
    expect(client.statements).toHaveLength(0);
    await checkedOut.client.query('SELECT 1', []);

    expect(client.statements).toHaveLength(2);
    expect(client.statements[0].text).toContain("set_config('role', $1, false)");
    expect(client.statements[0].text).toContain("set_config('app.tenant_id', $2, false)");
    expect(client.statements[0].values).toEqual([APP_ROLE, TENANT_A]);
    expect(client.statements[1]).toEqual(SELECT_ONE);
  });

  it('sends nothing when the scope is unchanged', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    await runOne(driver);
    await runOne(driver);
    await runOne(driver);

    expect(client.statements.filter((statement) => statement.text.includes('set_config'))).toHaveLength(1);
    expect(client.statements).toHaveLength(4);
  });

  it('sets the scope again when it changes', async () => {
    const { client, driver, dataSource } = fakePool();
    let scope: DatabaseScope = { role: APP_ROLE, tenantId: TENANT_A };
    scopeConnections(dataSource, () => scope);

    await runOne(driver);
    scope = { role: APP_ROLE, tenantId: TENANT_B };
    await runOne(driver);
    scope = { role: CROSS_TENANT_ROLE, tenantId: '' };
    await runOne(driver);

    expect(client.statements.filter((statement) => statement.text.includes('set_config')).map((statement) => statement.values)).toEqual([
      [APP_ROLE, TENANT_A],
      [APP_ROLE, TENANT_B],
      [CROSS_TENANT_ROLE, ''],
    ]);
  });

  it('sets the scope in the round trip of START TRANSACTION', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    const checkedOut = await checkOut(driver);
    const result = await checkedOut.client.query('START TRANSACTION');

    expect(client.statements).toEqual([
      {
        text: `START TRANSACTION; SELECT set_config('role', '${APP_ROLE}', false), set_config('app.tenant_id', '${TENANT_A}', false)`,
        values: undefined,
      },
    ]);
    expect(result).toEqual({ rows: [], command: 'START' });
  });

  it('quotes the tenant as a literal in the transaction statement', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: "x', true), set_config('role', 'postgres" }));

    const checkedOut = await checkOut(driver);
    await checkedOut.client.query('START TRANSACTION');

    expect(client.statements[0].text).toContain("set_config('app.tenant_id', 'x'', true), set_config(''role'', ''postgres', false)");
  });

  it('sets the scope again after a ROLLBACK undid it', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    const checkedOut = await checkOut(driver);
    await checkedOut.client.query('START TRANSACTION');
    await checkedOut.client.query('ROLLBACK');
    await checkedOut.client.query('SELECT 1', []);

    expect(client.statements.map((statement) => statement.text.split(' ')[0])).toEqual(['START', 'ROLLBACK', 'SELECT', 'SELECT']);
    expect(client.statements[2].values).toEqual([APP_ROLE, TENANT_A]);
    expect(client.statements[3]).toEqual(SELECT_ONE);
  });

  it('keeps the scope of a committed transaction', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    const checkedOut = await checkOut(driver);
    await checkedOut.client.query('START TRANSACTION');
    await checkedOut.client.query('COMMIT');
    checkedOut.release();
    await runOne(driver);

    expect(client.statements.map((statement) => statement.text)).toEqual([expect.stringMatching(/^START TRANSACTION; SELECT set_config/), 'COMMIT', 'SELECT 1']);
  });

  it('sets the scope again after a failed COMMIT', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));
    const checkedOut = await checkOut(driver);
    await checkedOut.client.query('START TRANSACTION');
    // PostgreSQL ends the COMMIT of an aborted transaction with the command tag ROLLBACK.
    const query = client.query;
    client.query = async function (text: string, values?: unknown) {
      return text === 'COMMIT' ? (this.statements.push({ text, values }), { rows: [], command: 'ROLLBACK' }) : query.call(this, text, values);
    };

    await checkedOut.client.query('COMMIT');
    checkedOut.release();
    await runOne(driver);

    expect(client.statements.filter((statement) => statement.text.includes('set_config'))).toHaveLength(2);
  });

  it('forgets a transaction scope released before COMMIT', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    const checkedOut = await checkOut(driver);
    await checkedOut.client.query('START TRANSACTION');
    checkedOut.release();
    await runOne(driver);

    expect(client.statements.filter((statement) => statement.text.includes('set_config'))).toHaveLength(2);
  });

  it('sends no statement whose scope could not be set', async () => {
    const { client, driver, dataSource } = fakePool({ failSetConfig: true });
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    const checkedOut = await checkOut(driver);
    await expect(checkedOut.client.query('SELECT 1', [])).rejects.toThrow('connection terminated');
    await expect(checkedOut.client.query('SELECT 2', [])).rejects.toThrow('connection terminated');

    expect(client.statements.every((statement) => statement.text.includes('set_config'))).toBe(true);
    expect(client.statements).toHaveLength(2);
  });

  it('sets the scope before a query config object', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));
    const config = { name: 'select_one', text: 'SELECT 1', values: [] };

    const checkedOut = await checkOut(driver);
    await checkedOut.client.query(config);

    expect(client.statements.map((statement) => statement.values)).toEqual([[APP_ROLE, TENANT_A], undefined]);
    expect(client.statements[1].text).toBe(config);
  });

  it('rejects a submittable before its scope is set', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    const checkedOut = await checkOut(driver);

    await expect(checkedOut.client.query({ text: 'SELECT 1', submit: () => undefined })).rejects.toThrow('cannot run a submittable query');
    expect(client.statements).toHaveLength(0);
  });

  it('applies the scope for a query with a callback', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));
    const checkedOut = await checkOut(driver);
    const query = checkedOut.client.query as unknown as (text: string, values: unknown[], callback: (error: Error | null, result?: unknown) => void) => void;

    const result = await new Promise((resolve, reject) => query.call(checkedOut.client, 'SELECT 1', [], (error, value) => (error ? reject(error) : resolve(value))));

    expect(result).toEqual({ rows: [], command: 'SELECT' });
    expect(client.statements).toHaveLength(2);
  });

  it('replaces the scope function when called again', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_B }));

    await runOne(driver);

    expect(client.statements[0].values).toEqual([APP_ROLE, TENANT_B]);
  });

  describe('with idle clients of several scopes', () => {
    interface Client {
      name: string;
      statements: unknown[][];
      query(text: string, values: unknown[]): Promise<unknown>;
    }

    /** Builds a fake pg-pool that hands out idle clients from the end of `_idle`, as pg-pool 3 does, and takes them back at the end. */
    function idlePool() {
      const master: { _idle: { client: Client }[]; _pendingQueue: unknown[] } = { _idle: [], _pendingQueue: [] };
      let created = 0;
      const driver = {
        master,
        obtainMasterConnection: jest.fn(async () => {
          const item = master._idle.pop() ?? { client: newClient(`client-${++created}`) };

          return [item.client, () => master._idle.push(item)];
        }),
      };

      return { master, driver, dataSource: { driver } as unknown as DataSource };
    }

    function newClient(name: string): Client {
      return {
        name,
        statements: [],
        async query(_text: string, values: unknown[]): Promise<unknown> {
          this.statements.push(values);

          return { rows: [] };
        },
      };
    }

    /** Checks out a client and runs one statement on it, which applies its scope. */
    async function checkOutAs(driver: { obtainMasterConnection: () => Promise<unknown> }): Promise<[Client, () => void]> {
      const [client, release] = (await driver.obtainMasterConnection()) as [Client, () => void];
      await client.query('SELECT 1', []);

      return [client, release];
    }

    it('hands out an idle client of the same tenant', async () => {
      const { driver, dataSource } = idlePool();
      let scope: DatabaseScope = { role: APP_ROLE, tenantId: TENANT_A };
      scopeConnections(dataSource, () => scope);
      const [clientA, releaseA] = await checkOutAs(driver);
      scope = { role: APP_ROLE, tenantId: TENANT_B };
      const [clientB, releaseB] = await checkOutAs(driver);
      releaseA();
      releaseB();

      scope = { role: APP_ROLE, tenantId: TENANT_A };
      const [again] = await checkOutAs(driver);

      expect(again.name).toBe(clientA.name);
      expect(clientA.statements).toEqual([[APP_ROLE, TENANT_A], [], []]);
      expect(clientB.statements).toEqual([[APP_ROLE, TENANT_B], []]);
    });

    it('skips the idle clients that waiting requests take', async () => {
      const { master, driver, dataSource } = idlePool();
      let scope: DatabaseScope = { role: APP_ROLE, tenantId: TENANT_A };
      scopeConnections(dataSource, () => scope);
      const [clientA, releaseA] = await checkOutAs(driver);
      scope = { role: APP_ROLE, tenantId: TENANT_B };
      const [clientB, releaseB] = await checkOutAs(driver);
      scope = { role: APP_ROLE, tenantId: TENANT_C };
      const [clientC, releaseC] = await checkOutAs(driver);
      releaseA();
      releaseB();
      releaseC();
      // A request already waits, and pg-pool gives it the last idle client (C), so the next checkout gets the one before it.
      master._pendingQueue.push({});

      preferIdleClientInScope(master as unknown as PoolInternals, `${APP_ROLE}/${TENANT_C}`);
      const afterC = master._idle.map((item) => item.client.name);
      preferIdleClientInScope(master as unknown as PoolInternals, `${APP_ROLE}/${TENANT_A}`);
      const afterA = master._idle.map((item) => item.client.name);

      expect(afterC).toEqual([clientA.name, clientB.name, clientC.name]);
      expect(afterA).toEqual([clientB.name, clientA.name, clientC.name]);
    });

    it('leaves a pool without the expected fields alone', () => {
      expect(() => preferIdleClientInScope(undefined, 'scope')).not.toThrow();
      expect(() => preferIdleClientInScope({} as PoolInternals, 'scope')).not.toThrow();
    });
  });
});

describe('SharedConnection', () => {
  const KEY = `${APP_ROLE}/${TENANT_A}`;

  it('lends to one user in its scope', () => {
    const client = {};
    const shared = new SharedConnection(KEY, client, jest.fn());

    const lent = shared.take(KEY);
    expect(lent?.[0]).toBe(client);
    expect(shared.take(KEY)).toBeNull();

    lent?.[1]();
    expect(shared.take(`${APP_ROLE}/${TENANT_B}`)).toBeNull();
    expect(shared.take(KEY)?.[0]).toBe(client);
  });

  it('passes a release error to the pool', () => {
    const release = jest.fn();
    const shared = new SharedConnection(KEY, {}, release);
    const failure = new Error('connection terminated');

    shared.take(KEY)?.[1](failure);
    expect(shared.take(KEY)).toBeNull();

    shared.release();
    expect(release).toHaveBeenCalledWith(failure);
  });

  it('makes the pool discard a connection still held when the work ends', () => {
    const release = jest.fn();
    const shared = new SharedConnection(KEY, {}, release);
    shared.take(KEY);

    shared.release();
    shared.release();

    expect(release).toHaveBeenCalledTimes(1);
    expect(release.mock.calls[0][0]).toBeInstanceOf(Error);
    expect(shared.take(KEY)).toBeNull();
  });

  it('returns a healthy connection to the pool without an error', () => {
    const release = jest.fn();
    const shared = new SharedConnection(KEY, {}, release);
    shared.take(KEY)?.[1]();

    shared.release();

    expect(release).toHaveBeenCalledWith(undefined);
  });
});
