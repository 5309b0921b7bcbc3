import { addMonths, monthOf, partitionName } from '@app/common/partitions/monthly-partitions';
import { PartitionMaintenanceService } from '@app/common/partitions/partition-maintenance.service';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source';
import { WebhookEventsRepository } from '../../src/modules/webhooks/webhook-events.repository';
import { createTenant } from '../support/factories';
import { TEST_DATABASE_URL } from '../support/test-env';
import { TestApp, startTestApp } from '../support/test-app';

const TABLES = ['webhook_events', 'outbox_events'];

function epochSeconds(iso: string): number {
  return Math.floor(new Date(iso).getTime() / 1000);
}

/**
 * The partition jobs run here through PartitionMaintenanceService on an api-role
 * app, so no scheduled run of the worker changes partitions while a test looks
 * at them. Test months lie in 2001–2003 and 2031, far from any other suite's rows.
 */
describe('Monthly partitions of the inbox and the outbox', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let ownerDataSource: DataSource;
  let maintenance: PartitionMaintenanceService;
  let tenantId: string;

  beforeAll(async () => {
    t = await startTestApp({ APP_ROLE: 'api' });
    dataSource = t.app.get(DataSource);
    // As in the worker, the jobs connect as the tables' owner: the service's own role may not run DDL.
    ownerDataSource = await new DataSource(dataSourceOptions(TEST_DATABASE_URL)).initialize();
    maintenance = new PartitionMaintenanceService(ownerDataSource);
    tenantId = (await createTenant(t)).tenantId;
  });

  afterAll(async () => {
    await ownerDataSource?.destroy();
    await t?.close();
  });

  async function partitionsOf(table: string): Promise<string[]> {
    const rows: { name: string }[] = await dataSource.query(
      `SELECT child.relname AS name FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        WHERE pg_inherits.inhparent = $1::regclass ORDER BY 1`,
      [table],
    );

    return rows.map((row) => row.name);
  }

  async function insertInboxRow(row: { created: string; status: string; receivedAt: string; processedAt: string | null }): Promise<string> {
    const [{ id }]: { id: string }[] = await dataSource.query(
      `INSERT INTO webhook_events (tenant_id, stripe_event_id, type, livemode, stripe_created, payload, raw_body, status, verified_by,
                                   received_at, queued_at, processed_at)
       VALUES ($1, $2, 'balance.available', false, $3, '{}'::jsonb, '\\x7b7d'::bytea, $4, 'endpoint', $5, $5, $6)
       RETURNING id`,
      [tenantId, `evt_${randomBytes(10).toString('hex')}`, epochSeconds(row.created), row.status, row.receivedAt, row.processedAt],
    );

    return id;
  }

  async function insertOutboxRow(createdAt: string, publishedAt: string | null): Promise<string> {
    const [{ id }]: { id: string }[] = await dataSource.query(
      `INSERT INTO outbox_events (tenant_id, event_name, aggregate_id, payload, occurred_at, created_at, published_at)
       VALUES ($1, 'PartitionProbe', $2, '{}'::jsonb, $3, $3, $4)
       RETURNING id`,
      [tenantId, `agg_${randomBytes(6).toString('hex')}`, createdAt, publishedAt],
    );

    return id;
  }

  async function tableOf(table: string, id: string): Promise<string | undefined> {
    const rows: { partition: string }[] = await dataSource.query(`SELECT tableoid::regclass::text AS partition FROM ${table} WHERE id = $1`, [id]);

    return rows[0]?.partition;
  }

  it('has the current month and three ahead after migrating', async () => {
    const current = monthOf(new Date());
    for (const table of TABLES) {
      const partitions = await partitionsOf(table);
      expect(partitions).toContain(`${table}_default`);
      for (let offset = 0; offset <= 3; offset++) {
        expect(partitions).toContain(partitionName(table, addMonths(current, offset)));
      }
    }
  });

  it('creates partitions ahead once', async () => {
    const first = await maintenance.ensurePartitions(new Date('2031-05-10T12:00:00Z'));
    const second = await maintenance.ensurePartitions(new Date('2031-05-10T12:00:00Z'));

    expect(first.created.sort()).toEqual(
      ['2031_05', '2031_06', '2031_07', '2031_08'].flatMap((month) => TABLES.map((table) => `${table}_p${month}`)).sort(),
    );
    expect(second.created).toEqual([]);
    expect(await partitionsOf('webhook_events')).toEqual(expect.arrayContaining(['webhook_events_p2031_05', 'webhook_events_p2031_08']));
  });

  it('leaves a month in the default partition when it already holds rows', async () => {
    const id = await insertInboxRow({ created: '2032-02-10T00:00:00Z', status: 'processed', receivedAt: '2032-02-10T00:00:00Z', processedAt: '2032-02-10T00:00:00Z' });

    const result = await maintenance.ensurePartitions(new Date('2032-02-01T00:00:00Z'), 0);

    expect(result.skipped).toEqual(['webhook_events_p2032_02']);
    expect(result.created).toEqual(['outbox_events_p2032_02']);
    expect(await tableOf('webhook_events', id)).toBe('webhook_events_default');
  });

  it('stores a redelivery across a month boundary once', async () => {
    await maintenance.ensurePartitions(new Date('2003-01-15T00:00:00Z'));
    const repository = t.app.get(WebhookEventsRepository);
    const event = {
      tenantId,
      stripeEventId: `evt_${randomBytes(10).toString('hex')}`,
      type: 'balance.available',
      livemode: false,
      apiVersion: '2026-11-18.endive',
      stripeCreated: epochSeconds('2003-01-31T23:59:59Z'),
      rawBody: Buffer.from('{"object":"event"}'),
      verifiedBy: 'endpoint' as const,
    };

    const id = await repository.insertIfNew(event);
    // The first delivery arrived in January; the redelivery below arrives today, months later.
    await dataSource.query(`UPDATE webhook_events SET received_at = '2003-01-31T23:59:59Z' WHERE id = $1`, [id]);
    const again = await repository.insertIfNew(event);

    expect(id).not.toBeNull();
    expect(again).toBeNull();
    const rows: { id: string }[] = await dataSource.query(`SELECT id FROM webhook_events WHERE tenant_id = $1 AND stripe_event_id = $2`, [tenantId, event.stripeEventId]);
    expect(rows).toEqual([{ id }]);
    expect(await tableOf('webhook_events', id as string)).toBe('webhook_events_p2003_01');
  });

  it('finds and locks a partitioned row by id alone', async () => {
    await maintenance.ensurePartitions(new Date('2003-01-15T00:00:00Z'));
    const id = await insertInboxRow({ created: '2003-02-02T00:00:00Z', status: 'failed', receivedAt: '2003-02-02T00:00:00Z', processedAt: null });
    const repository = t.app.get(WebhookEventsRepository);

    const found = await repository.findById(id);
    const locked = await repository.transaction((manager) => repository.lockById(manager, id));

    expect(found?.id).toBe(id);
    expect(found?.status).toBe('failed');
    expect(locked?.id).toBe(id);
  });

  describe('retention', () => {
    const old = '2001-01-20T00:00:00Z';
    let ids: Record<string, string>;
    let result: Awaited<ReturnType<PartitionMaintenanceService['dropExpired']>>;

    beforeAll(async () => {
      await maintenance.ensurePartitions(new Date('2001-01-15T00:00:00Z'));
      ids = {
        processedJanuary: await insertInboxRow({ created: '2001-01-10T00:00:00Z', status: 'processed', receivedAt: old, processedAt: old }),
        failedFebruary: await insertInboxRow({ created: '2001-02-10T00:00:00Z', status: 'failed', receivedAt: '2001-02-10T00:00:00Z', processedAt: null }),
        replayedMarch: await insertInboxRow({ created: '2001-03-10T00:00:00Z', status: 'processed', receivedAt: '2001-03-10T00:00:00Z', processedAt: new Date().toISOString() }),
        receivedApril: await insertInboxRow({ created: '2001-04-10T00:00:00Z', status: 'received', receivedAt: '2001-04-10T00:00:00Z', processedAt: null }),
        expiredInDefault: await insertInboxRow({ created: '1999-06-01T00:00:00Z', status: 'ignored', receivedAt: '1999-06-01T00:00:00Z', processedAt: '1999-06-01T00:00:00Z' }),
        failedInDefault: await insertInboxRow({ created: '1999-06-01T00:00:00Z', status: 'failed', receivedAt: '1999-06-01T00:00:00Z', processedAt: null }),
        publishedJanuary: await insertOutboxRow('2001-01-10T00:00:00Z', '2001-01-10T00:00:01Z'),
        unpublishedFebruary: await insertOutboxRow('2001-02-10T00:00:00Z', null),
        publishedInDefault: await insertOutboxRow('1999-06-01T00:00:00Z', '1999-06-01T00:00:01Z'),
      };

      result = await maintenance.dropExpired(90);
    });

    it('drops a month whose rows all expired', async () => {
      expect(result.dropped).toEqual(expect.arrayContaining(['webhook_events_p2001_01', 'outbox_events_p2001_01']));
      expect(await partitionsOf('webhook_events')).not.toContain('webhook_events_p2001_01');
      expect(await partitionsOf('outbox_events')).not.toContain('outbox_events_p2001_01');
      expect(await tableOf('webhook_events', ids.processedJanuary)).toBeUndefined();
    });

    it('keeps a month holding a failed event', async () => {
      expect(result.kept).toContain('webhook_events_p2001_02');
      expect(await tableOf('webhook_events', ids.failedFebruary)).toBe('webhook_events_p2001_02');
    });

    it('keeps a month holding a recently processed event', async () => {
      expect(result.kept).toContain('webhook_events_p2001_03');
      expect(await tableOf('webhook_events', ids.replayedMarch)).toBe('webhook_events_p2001_03');
    });

    it('keeps a month holding an unprocessed event', async () => {
      expect(result.kept).toContain('webhook_events_p2001_04');
      expect(await tableOf('webhook_events', ids.receivedApril)).toBe('webhook_events_p2001_04');
    });

    it('keeps an outbox month holding an unpublished row', async () => {
      expect(result.kept).toContain('outbox_events_p2001_02');
      expect(await tableOf('outbox_events', ids.unpublishedFebruary)).toBe('outbox_events_p2001_02');
    });

    it('never drops a month that has not expired', async () => {
      const current = monthOf(new Date());
      for (const table of TABLES) {
        expect(await partitionsOf(table)).toContain(partitionName(table, current));
        expect(result.dropped).not.toContain(partitionName(table, addMonths(current, -1)));
      }
    });

    it('deletes expired rows from the default partition', async () => {
      expect(result.deletedFromDefault).toBeGreaterThanOrEqual(2);
      expect(await tableOf('webhook_events', ids.expiredInDefault)).toBeUndefined();
      expect(await tableOf('outbox_events', ids.publishedInDefault)).toBeUndefined();
    });

    it('keeps a failed event in the default partition', async () => {
      expect(await tableOf('webhook_events', ids.failedInDefault)).toBe('webhook_events_default');
    });
  });

  it('runs two maintenance runs at once safely', async () => {
    const others = [new DataSource(dataSourceOptions(TEST_DATABASE_URL)), new DataSource(dataSourceOptions(TEST_DATABASE_URL))];
    await Promise.all(others.map((other) => other.initialize()));
    try {
      const [one, two] = others.map((other) => new PartitionMaintenanceService(other));

      const created = await Promise.all([one.ensurePartitions(new Date('2002-06-15T00:00:00Z')), two.ensurePartitions(new Date('2002-06-15T00:00:00Z'))]);
      const dropped = await Promise.all([one.dropExpired(90), two.dropExpired(90)]);

      const createdNames = created.flatMap((run) => run.created).sort();
      expect(createdNames).toEqual(['2002_06', '2002_07', '2002_08', '2002_09'].flatMap((month) => TABLES.map((table) => `${table}_p${month}`)).sort());
      const droppedNames = dropped.flatMap((run) => run.dropped).filter((name) => name.includes('_p2002_'));
      expect(droppedNames.sort()).toEqual(createdNames);
      for (const table of TABLES) {
        expect((await partitionsOf(table)).filter((name) => name.includes('_p2002_'))).toEqual([]);
      }
    } finally {
      await Promise.all(others.map((other) => other.destroy()));
    }
  });

  it('rejects a retention below the replay window at start', () => {
    const main = join(__dirname, '..', '..', 'dist', 'src', 'main.js');
    const run = spawnSync(process.execPath, [main], {
      env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: TEST_DATABASE_URL, PARTITION_RETENTION_DAYS: '7', APP_ROLE: 'worker' },
      encoding: 'utf8',
      timeout: 30_000,
    });

    expect(run.status).not.toBe(0);
    expect(run.stderr + run.stdout).toContain('PARTITION_RETENTION_DAYS is 7, below the 14-day replay window');
  });

  it('creates partitions from a worker app', async () => {
    const worker = await startTestApp({ APP_ROLE: 'worker' }, t.emulator);
    try {
      const created = await worker.app.get(PartitionMaintenanceService).ensurePartitions(new Date('2040-01-15T00:00:00Z'), 0);

      expect(created.created.sort()).toEqual(TABLES.map((table) => `${table}_p2040_01`).sort());
    } finally {
      await worker.close();
      for (const table of TABLES) {
        await ownerDataSource.query(`DROP TABLE IF EXISTS ${table}_p2040_01`);
      }
    }
  });
});
