import { APP_ROLE, DatabaseScope } from '@app/common/database/database-roles';
import { preparedStatementName, queryPrepared } from '@app/common/database/prepared-query';
import { scopeConnections } from '@app/common/database/scoped-connections';
import { Client, type Pool } from 'pg';
import { DataSource, QueryFailedError } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { serviceDataSourceOptions } from '../../src/database/scoped-data-source';
import { TEST_DATABASE_URL } from '../support/test-env';

const TENANT_A = '4f6c2a1e-9b3d-4e5f-8a7b-0c1d2e3f4a5b';
const TENANT_B = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
const PROBE_TABLE = 'prepared_query_probe';

/**
 * Prepared statements keep their plan on the connection across checkouts, so
 * these run on the service's real pool and row-level security: a plan made in
 * one tenant's scope must not show rows to the next tenant.
 */
describe('Prepared queries on scoped connections', () => {
  let owner: Client;
  let dataSource: DataSource;
  let scope: DatabaseScope = { role: APP_ROLE, tenantId: TENANT_A };

  beforeAll(async () => {
    owner = new Client({ connectionString: TEST_DATABASE_URL });
    await owner.connect();
    await owner.query(`DROP TABLE IF EXISTS ${PROBE_TABLE}`);
    await owner.query(`CREATE TABLE ${PROBE_TABLE} (tenant_id uuid NOT NULL, note text NOT NULL CHECK (note <> ''))`);
    await owner.query(`ALTER TABLE ${PROBE_TABLE} ENABLE ROW LEVEL SECURITY`);
    await owner.query(`ALTER TABLE ${PROBE_TABLE} FORCE ROW LEVEL SECURITY`);
    await owner.query(
      `CREATE POLICY tenant_isolation ON ${PROBE_TABLE} TO ${APP_ROLE}
         USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
         WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)`,
    );
    await owner.query(`GRANT SELECT, INSERT ON ${PROBE_TABLE} TO ${APP_ROLE}`);
    await owner.query(`INSERT INTO ${PROBE_TABLE} VALUES ($1, 'note of A'), ($2, 'note of B')`, [TENANT_A, TENANT_B]);

    dataSource = await new DataSource(serviceDataSourceOptions(TEST_DATABASE_URL)).initialize();
    scopeConnections(dataSource, () => scope);
  });

  afterAll(async () => {
    await dataSource.destroy();
    await owner.query(`DROP TABLE IF EXISTS ${PROBE_TABLE}`);
    await owner.end();
  });

  function pool(): Pool {
    return (dataSource.driver as PostgresDriver).master as Pool;
  }

  it('isolates tenants across generic plans', async () => {
    const seen: string[] = [];
    // PostgreSQL may switch a prepared statement to one generic plan after five executions.
    for (let call = 0; call < 12; call++) {
      scope = { role: APP_ROLE, tenantId: call % 2 === 0 ? TENANT_A : TENANT_B };
      const rows = await queryPrepared<{ note: string }>(dataSource, `SELECT note FROM ${PROBE_TABLE} ORDER BY note`, []);
      seen.push(rows.map((row) => row.note).join(','));
    }

    expect(seen).toEqual(Array.from({ length: 12 }, (_, call) => (call % 2 === 0 ? 'note of A' : 'note of B')));
  });

  it('rejects a write into another tenant', async () => {
    scope = { role: APP_ROLE, tenantId: TENANT_A };

    const write = queryPrepared(dataSource, `INSERT INTO ${PROBE_TABLE} (tenant_id, note) VALUES ($1, 'smuggled')`, [TENANT_B]);

    await expect(write).rejects.toBeInstanceOf(QueryFailedError);
    await expect(write).rejects.toMatchObject({ driverError: { code: '42501' } });
  });

  it('keeps the connection after a rejected statement', async () => {
    scope = { role: APP_ROLE, tenantId: TENANT_A };
    let removed = 0;
    pool().on('remove', () => removed++);

    for (let call = 0; call < 3; call++) {
      await expect(queryPrepared(dataSource, `INSERT INTO ${PROBE_TABLE} (tenant_id, note) VALUES ($1, '')`, [TENANT_A])).rejects.toMatchObject({
        driverError: { code: '23514' },
      });
    }
    const [row] = await queryPrepared<{ note: string }>(dataSource, `SELECT note FROM ${PROBE_TABLE}`, []);

    expect(row.note).toBe('note of A');
    expect(removed).toBe(0);
  });

  it('runs again after a migration changes its columns', async () => {
    scope = { role: APP_ROLE, tenantId: TENANT_A };
    const statement = `SELECT * FROM ${PROBE_TABLE}`;
    const before = await queryPrepared<Record<string, unknown>>(dataSource, statement, []);
    let removed = 0;
    pool().on('remove', () => removed++);

    await owner.query(`ALTER TABLE ${PROBE_TABLE} ADD COLUMN added_later text NOT NULL DEFAULT 'new'`);
    const after = await queryPrepared<Record<string, unknown>>(dataSource, statement, []);
    const again = await queryPrepared<Record<string, unknown>>(dataSource, statement, []);

    expect(before).toEqual([{ tenant_id: TENANT_A, note: 'note of A' }]);
    expect(after).toEqual([{ tenant_id: TENANT_A, note: 'note of A', added_later: 'new' }]);
    expect(again).toEqual(after);
    // Each connection that had prepared the statement is replaced once.
    expect(removed).toBeGreaterThanOrEqual(1);
  });

  it('names each text apart', () => {
    const first = preparedStatementName('SELECT 1');
    const second = preparedStatementName('SELECT 2');

    expect(first).toBe(preparedStatementName('SELECT 1'));
    expect(second).not.toBe(first);
    expect(Buffer.byteLength(first)).toBeLessThanOrEqual(63);
  });
});
