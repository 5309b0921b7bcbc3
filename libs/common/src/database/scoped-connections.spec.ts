import { DataSource } from 'typeorm';
import { APP_ROLE, CROSS_TENANT_ROLE, DatabaseScope } from './database-roles';
import { PoolInternals, preferIdleClientInScope, scopeConnections } from './scoped-connections';

const TENANT_A = '0b8f5c3e-6a55-4c2e-9d4e-6f0a1b2c3d4e';
const TENANT_B = '7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6';
const TENANT_C = 'c3a9e1f0-2b4d-4e6f-8a0b-1c2d3e4f5a6b';

/** Builds a fake pool that hands out one client on every checkout; the client records the statements it runs. */
function fakePool(options: { failSetConfig?: boolean } = {}) {
  const client = {
    statements: [] as { text: string; values: unknown[] }[],
    async query(text: string, values: unknown[]): Promise<unknown> {
      this.statements.push({ text, values });
      if (options.failSetConfig) {
        throw new Error('connection terminated');
      }

      return { rows: [] };
    },
  };
  const release = jest.fn();
  const driver = { obtainMasterConnection: jest.fn(async () => [client, release]) };
  const dataSource = { driver } as unknown as DataSource;

  return { client, release, driver, dataSource };
}

async function checkOut(driver: { obtainMasterConnection: () => Promise<unknown> }): Promise<void> {
  await driver.obtainMasterConnection();
}

describe('scopeConnections', () => {
  it('sets role and tenant on the first checkout', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    await checkOut(driver);

    expect(client.statements).toHaveLength(1);
    expect(client.statements[0].text).toContain("set_config('role', $1, false)");
    expect(client.statements[0].text).toContain("set_config('app.tenant_id', $2, false)");
    expect(client.statements[0].values).toEqual([APP_ROLE, TENANT_A]);
  });

  it('sends nothing when the scope is unchanged', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    await checkOut(driver);
    await checkOut(driver);
    await checkOut(driver);

    expect(client.statements).toHaveLength(1);
  });

  it('sets the scope again when it changes', async () => {
    const { client, driver, dataSource } = fakePool();
    let scope: DatabaseScope = { role: APP_ROLE, tenantId: TENANT_A };
    scopeConnections(dataSource, () => scope);

    await checkOut(driver);
    scope = { role: APP_ROLE, tenantId: TENANT_B };
    await checkOut(driver);
    scope = { role: CROSS_TENANT_ROLE, tenantId: '' };
    await checkOut(driver);

    expect(client.statements.map((statement) => statement.values)).toEqual([
      [APP_ROLE, TENANT_A],
      [APP_ROLE, TENANT_B],
      [CROSS_TENANT_ROLE, ''],
    ]);
  });

  it('discards a client whose scope could not be set', async () => {
    const { client, release, driver, dataSource } = fakePool({ failSetConfig: true });
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));

    await expect(checkOut(driver)).rejects.toThrow('connection terminated');
    await expect(checkOut(driver)).rejects.toThrow('connection terminated');

    expect(release).toHaveBeenCalledTimes(2);
    expect(release).toHaveBeenCalledWith(expect.any(Error));
    expect(client.statements).toHaveLength(2);
  });

  it('replaces the scope function when called again', async () => {
    const { client, driver, dataSource } = fakePool();
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_A }));
    scopeConnections(dataSource, () => ({ role: APP_ROLE, tenantId: TENANT_B }));

    await checkOut(driver);

    expect(client.statements.map((statement) => statement.values)).toEqual([[APP_ROLE, TENANT_B]]);
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

    async function checkOutAs(driver: { obtainMasterConnection: () => Promise<unknown> }): Promise<[Client, () => void]> {
      return (await driver.obtainMasterConnection()) as [Client, () => void];
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
      expect(clientA.statements).toEqual([[APP_ROLE, TENANT_A]]);
      expect(clientB.statements).toEqual([[APP_ROLE, TENANT_B]]);
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
