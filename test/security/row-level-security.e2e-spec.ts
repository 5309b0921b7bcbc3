import { RequestContext } from '@app/common/context/request-context';
import { APP_ROLE, CROSS_TENANT_ROLE } from '@app/common/database/database-roles';
import { JOB_SUBMIT_REFUND, QUEUE_PAYMENTS } from '@app/common/queues/queue-names';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { ClsServiceManager } from 'nestjs-cls';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { PaymentsRepository } from '../../src/modules/payments/payments.repository';
import { RefundsRepository } from '../../src/modules/payments/refunds.repository';
import { TenantFixture, createTenant } from '../support/factories';
import { TEST_DATABASE_URL } from '../support/test-env';
import { TestApp, eventually, startTestApp } from '../support/test-app';

interface TenantRow {
  tenant_id: string;
}

/** What a query with its tenant filter left out saw, and who ran it. */
interface UnfilteredView {
  currentUser: string;
  tenantIds: string[];
}

/** Reads the tenant_id of every payment with no tenant filter, and the role the connection runs as. */
async function readUnfiltered(dataSource: DataSource): Promise<UnfilteredView> {
  const [{ current_user: currentUser }]: { current_user: string }[] = await dataSource.query('SELECT current_user');
  const rows: TenantRow[] = await dataSource.query('SELECT DISTINCT tenant_id FROM payments');

  return { currentUser, tenantIds: rows.map((row) => row.tenant_id) };
}

async function insertPayment(dataSource: DataSource, tenantId: string): Promise<string> {
  const [row]: { id: string }[] = await dataSource.query(
    `INSERT INTO payments (tenant_id, status, amount, currency, livemode) VALUES ($1, 'failed', 500, 'usd', false) RETURNING id`,
    [tenantId],
  );

  return row.id;
}

describe('row-level security', () => {
  let admin: Client;

  beforeAll(async () => {
    admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
  });

  afterAll(async () => {
    await admin.end();
  });

  describe('catalog', () => {
    it('forces a tenant policy on every tenant table', async () => {
      // Partitions are left out: queries reach them through their parent, whose policies apply.
      const { rows } = await admin.query<{ table_name: string; enabled: boolean; forced: boolean; policies: string[] }>(
        `SELECT c.relname AS table_name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
                coalesce(array_agg(p.polname || ':' || pg_get_expr(p.polqual, p.polrelid) || ':' || pg_get_expr(p.polwithcheck, p.polrelid))
                           FILTER (WHERE p.polname IS NOT NULL), '{}') AS policies
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
           LEFT JOIN pg_policy p ON p.polrelid = c.oid
                                AND p.polroles @> ARRAY[(SELECT oid FROM pg_roles WHERE rolname = $1)]
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity
          ORDER BY c.relname`,
        [APP_ROLE],
      );

      expect(rows.length).toBeGreaterThan(10);
      for (const row of rows) {
        expect({ table: row.table_name, enabled: row.enabled }).toEqual({ table: row.table_name, enabled: true });
        expect({ table: row.table_name, forced: row.forced }).toEqual({ table: row.table_name, forced: true });
        expect({ table: row.table_name, policies: row.policies }).toEqual({
          table: row.table_name,
          policies: [expect.stringMatching(/^tenant_isolation:.*current_setting\('app\.tenant_id'.*:.*current_setting\('app\.tenant_id'/)],
        });
      }
    });

    it('creates the service roles without BYPASSRLS or login', async () => {
      const { rows } = await admin.query<{ rolname: string; rolcanlogin: boolean; rolbypassrls: boolean; rolsuper: boolean; rolinherit: boolean }>(
        `SELECT rolname, rolcanlogin, rolbypassrls, rolsuper, rolinherit FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
        [[APP_ROLE, CROSS_TENANT_ROLE]],
      );

      expect(rows).toEqual([
        // NOINHERIT, so the app role does not inherit the cross-tenant role's policies by being its member.
        { rolname: APP_ROLE, rolcanlogin: false, rolbypassrls: false, rolsuper: false, rolinherit: false },
        { rolname: CROSS_TENANT_ROLE, rolcanlogin: false, rolbypassrls: false, rolsuper: false, rolinherit: true },
      ]);
    });
  });

  describe('in the application', () => {
    let t: TestApp;
    let dataSource: DataSource;
    let tenantA: TenantFixture;
    let tenantB: TenantFixture;
    let paymentA: string;
    let paymentB: string;

    beforeAll(async () => {
      t = await startTestApp();
      dataSource = t.app.get(DataSource);
      tenantA = await createTenant(t);
      tenantB = await createTenant(t);
      paymentA = await insertPayment(dataSource, tenantA.tenantId);
      paymentB = await insertPayment(dataSource, tenantB.tenantId);
    });

    afterAll(async () => {
      jest.restoreAllMocks();
      await t.close();
    });

    it('connects as the superuser but queries as the app role', async () => {
      const context = t.app.get(RequestContext);
      const [row]: { current_user: string; session_user: string; is_superuser: string }[] = await context.runAsTenant(tenantA.tenantId, () =>
        dataSource.query(`SELECT current_user, session_user, current_setting('is_superuser') AS is_superuser`),
      );
      const { rows } = await admin.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [row.session_user]);

      expect(rows[0].rolsuper).toBe(true);
      expect(row.current_user).toBe(APP_ROLE);
      expect(row.is_superuser).toBe('off');
    });

    it('shows a request only its tenant when the filter is left out', async () => {
      const payments = t.app.get(PaymentsRepository);
      const findById = payments.findById.bind(payments);
      const seen: UnfilteredView[] = [];
      const spy = jest.spyOn(payments, 'findById').mockImplementation(async (tenantId, id, manager) => {
        seen.push(await readUnfiltered(dataSource));

        return findById(tenantId, id, manager);
      });

      const response = await t.http().get(`/api/v1/payments/${paymentA}`).set(tenantA.auth);
      spy.mockRestore();

      expect(response.status).toBe(200);
      expect(seen).toEqual([{ currentUser: APP_ROLE, tenantIds: [tenantA.tenantId] }]);
    });

    it('refuses a request a write for another tenant', async () => {
      const payments = t.app.get(PaymentsRepository);
      const findById = payments.findById.bind(payments);
      const outcomes: { insertError: string; updatedRows: number }[] = [];
      const spy = jest.spyOn(payments, 'findById').mockImplementation(async (tenantId, id, manager) => {
        const insertError = await insertPayment(dataSource, tenantB.tenantId).then(
          () => 'inserted',
          (error: Error) => error.message,
        );
        const [, updatedRows]: [unknown, number] = await dataSource.query(`UPDATE payments SET description = 'taken over' WHERE id = $1`, [paymentB]);
        outcomes.push({ insertError, updatedRows });

        return findById(tenantId, id, manager);
      });

      const response = await t.http().get(`/api/v1/payments/${paymentA}`).set(tenantA.auth);
      spy.mockRestore();
      const { rows } = await admin.query<{ description: string | null }>('SELECT description FROM payments WHERE id = $1', [paymentB]);

      expect(response.status).toBe(200);
      expect(outcomes).toEqual([{ insertError: 'new row violates row-level security policy for table "payments"', updatedRows: 0 }]);
      expect(rows[0].description).toBeNull();
    });

    it('shows a job only its tenant when the filter is left out', async () => {
      const refunds = t.app.get(RefundsRepository);
      const seen: UnfilteredView[] = [];
      // The job looks its refund up first; a refund that is not stored ends the job as skipped.
      jest.spyOn(refunds, 'findById').mockImplementation(async () => {
        seen.push(await readUnfiltered(dataSource));

        return null;
      });
      const queue = t.app.get<Queue>(getQueueToken(QUEUE_PAYMENTS));

      const job = await queue.add(JOB_SUBMIT_REFUND, { tenantId: tenantB.tenantId, refundId: randomUUID() }, { jobId: `rls-probe-${randomUUID()}` });
      const state = await eventually(async () => {
        const current = await job.getState();

        return current === 'completed' || current === 'failed' ? current : undefined;
      });

      expect(state).toBe('completed');
      expect(seen).toEqual([{ currentUser: APP_ROLE, tenantIds: [tenantB.tenantId] }]);
    });

    it('shows nothing in a context without a tenant', async () => {
      const cls = ClsServiceManager.getClsService();

      const view = await cls.run({ ifNested: 'override' }, () => readUnfiltered(dataSource));

      expect(view).toEqual({ currentUser: APP_ROLE, tenantIds: [] });
    });

    it('shows every tenant on a reviewed cross-tenant path', async () => {
      const context = t.app.get(RequestContext);

      const view = await context.runAcrossTenants('operator', () => readUnfiltered(dataSource));

      expect(view.currentUser).toBe(CROSS_TENANT_ROLE);
      expect(view.tenantIds).toEqual(expect.arrayContaining([tenantA.tenantId, tenantB.tenantId]));
    });
  });
});
