import { APP_ROLE, DatabaseScope } from '@app/common/database/database-roles';
import { scopeConnections } from '@app/common/database/scoped-connections';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { serviceDataSourceOptions } from '../../src/database/scoped-data-source';
import { TEST_DATABASE_URL } from '../support/test-env';

const TENANT_A = '0b8f5c3e-6a55-4c2e-9d4e-6f0a1b2c3d4e';
const TENANT_B = '7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6';
const TENANT_C = 'c3a9e1f0-2b4d-4e6f-8a0b-1c2d3e4f5a6b';

type Checkout = [{ query(text: string): Promise<{ rows: { tenant: string }[] }> }, () => void];

/** The service's pool on a real pg-pool and PostgreSQL, so the pool internals the checkout relies on are the installed version's. */
describe('Scoped connections on a real pool', () => {
  let dataSource: DataSource;
  let scope: DatabaseScope = { role: APP_ROLE, tenantId: TENANT_A };

  beforeAll(async () => {
    dataSource = await new DataSource(serviceDataSourceOptions(TEST_DATABASE_URL)).initialize();
    scopeConnections(dataSource, () => scope);
  });

  afterAll(async () => {
    await dataSource.destroy();
  });

  async function checkOut(tenantId: string): Promise<Checkout> {
    scope = { role: APP_ROLE, tenantId };

    return (await (dataSource.driver as PostgresDriver).obtainMasterConnection()) as Checkout;
  }

  async function tenantOf(client: Checkout[0]): Promise<string> {
    const { rows } = await client.query(`SELECT current_setting('app.tenant_id') AS tenant`);

    return rows[0].tenant;
  }

  it('reuses an idle connection of the same tenant', async () => {
    // A checkout sets its scope with its first statement, so each one runs a statement before its release.
    const [clientA, releaseA] = await checkOut(TENANT_A);
    await tenantOf(clientA);
    const [clientB, releaseB] = await checkOut(TENANT_B);
    await tenantOf(clientB);
    // Released last, the tenant B connection is the one pg-pool would hand out next.
    releaseA();
    releaseB();

    const [again, releaseAgain] = await checkOut(TENANT_A);
    const tenant = await tenantOf(again);
    releaseAgain();

    expect(again).toBe(clientA);
    expect(again).not.toBe(clientB);
    expect(tenant).toBe(TENANT_A);
  });

  it('sets the tenant with START TRANSACTION', async () => {
    const tenantId = '5e0c7a1b-8d2f-4a3e-9b6c-7d8e9f0a1b2c';
    const [client, release] = await checkOut(tenantId);
    await client.query('START TRANSACTION');
    const inTransaction = await tenantOf(client);
    await client.query('COMMIT');
    const afterCommit = await tenantOf(client);
    release();

    expect(inTransaction).toBe(tenantId);
    expect(afterCommit).toBe(tenantId);
  });

  it('sets the tenant on a connection of another tenant', async () => {
    const [client, release] = await checkOut(TENANT_A);
    release();

    // No idle connection is in tenant C yet, so the checkout switches the one released last.
    const [other, releaseOther] = await checkOut(TENANT_C);
    const tenant = await tenantOf(other);
    releaseOther();

    expect(other).toBe(client);
    expect(tenant).toBe(TENANT_C);
  });
});
