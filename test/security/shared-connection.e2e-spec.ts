import { RequestContext } from '@app/common/context/request-context';
import { DataSource } from 'typeorm';
import { createTenant } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';

interface Backend {
  pid: number;
  tenant: string;
}

/**
 * A unit of work on one connection (RequestContext.runOnOneConnection)
 * against PostgreSQL: its statements and transactions take the one
 * connection in turn, and anything that would share it unsafely gets a
 * connection of its own from the pool.
 */
describe('One connection for a unit of work', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let context: RequestContext;
  let tenantId: string;
  let otherTenantId: string;

  beforeAll(async () => {
    t = await startTestApp({ APP_ROLE: 'api' });
    dataSource = t.app.get(DataSource);
    context = t.app.get(RequestContext);
    tenantId = (await createTenant(t)).tenantId;
    otherTenantId = (await createTenant(t)).tenantId;
  });

  afterAll(async () => {
    await t.close();
  });

  function checkedOut(): number {
    const pool = (dataSource.driver as unknown as { master: { totalCount: number; idleCount: number } }).master;

    return pool.totalCount - pool.idleCount;
  }

  async function backend(): Promise<Backend> {
    const rows: { pid: number; tenant: string }[] = await dataSource.query(`SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id') AS tenant`);

    return rows[0];
  }

  it('runs statements and transactions on the same connection, in the tenant', async () => {
    const seen = await context.runAsTenant(tenantId, () =>
      context.runOnOneConnection(dataSource, async () => {
        const first = await backend();
        const inTransaction = await dataSource.transaction(async (manager) => {
          const rows: { pid: number }[] = await manager.query(`SELECT pg_backend_pid() AS pid`);

          return rows[0].pid;
        });
        const last = await backend();

        return { first, inTransaction, last, betweenStatements: checkedOut() };
      }),
    );

    // Between statements the work keeps its connection checked out, where a plain checkout would have returned it.
    expect(seen.betweenStatements).toBe(1);
    expect(seen.first.tenant).toBe(tenantId);
    expect(seen.inTransaction).toBe(seen.first.pid);
    expect(seen.last).toEqual(seen.first);
  });

  it('keeps other statements out of a transaction', async () => {
    const seen = await context.runAsTenant(tenantId, () =>
      context.runOnOneConnection(dataSource, () =>
        dataSource.transaction(async (manager) => {
          const rows: { pid: number }[] = await manager.query(`SELECT pg_backend_pid() AS pid`);
          const outside = await backend();

          return { transaction: rows[0].pid, outside };
        }),
      ),
    );

    expect(seen.outside.pid).not.toBe(seen.transaction);
    expect(seen.outside.tenant).toBe(tenantId);
  });

  it('gives work for another tenant a connection in that tenant', async () => {
    const seen = await context.runAsTenant(tenantId, () =>
      context.runOnOneConnection(dataSource, async () => {
        const own = await backend();
        const other = await context.runAsTenant(otherTenantId, () => backend());

        return { own, other };
      }),
    );

    expect(seen.own.tenant).toBe(tenantId);
    expect(seen.other.tenant).toBe(otherTenantId);
    expect(seen.other.pid).not.toBe(seen.own.pid);
  });

  it('goes on after a rolled-back transaction', async () => {
    const before: { count: string }[] = await context.runAsTenant(tenantId, () => dataSource.query(`SELECT count(*) FROM customers`));

    const result = await context.runAsTenant(tenantId, () =>
      context.runOnOneConnection(dataSource, async () => {
        await expect(
          dataSource.transaction(async (manager) => {
            await manager.query(
              `INSERT INTO customers (tenant_id, name, email, livemode, stripe_customer_id) VALUES ($1, 'Rolled back', 'rolled-back@example.com', false, 'cus_rolledback')`,
              [tenantId],
            );
            await manager.query(`SELECT 1 / 0`);
          }),
        ).rejects.toThrow(/division by zero/);

        return backend();
      }),
    );

    const after: { count: string }[] = await context.runAsTenant(tenantId, () => dataSource.query(`SELECT count(*) FROM customers`));
    expect(after[0].count).toBe(before[0].count);
    expect(result.tenant).toBe(tenantId);
  });

  it('returns the connection to the pool when the work ends', async () => {
    await context.runAsTenant(tenantId, () => context.runOnOneConnection(dataSource, () => backend()));

    expect(checkedOut()).toBe(0);
  });
});
