import { RequestContext } from '@app/common/context/request-context';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { WebhookEventsRepository } from '../../src/modules/webhooks/webhook-events.repository';
import { createTenant } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';
import { nowSeconds } from './webhook-helpers';

interface StoredRow {
  status: string;
  reason: string | null;
  attempts: number;
  processed_at: Date | null;
}

/**
 * The worker's batched statements against PostgreSQL: one claim and one
 * outcome statement for several rows of a tenant. The api role runs no
 * worker, so nothing else touches the rows.
 */
describe('Batched claims and outcomes of inbox rows', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let repository: WebhookEventsRepository;
  let context: RequestContext;
  let tenantId: string;
  let otherTenantId: string;

  beforeAll(async () => {
    t = await startTestApp({ APP_ROLE: 'api' });
    dataSource = t.app.get(DataSource);
    repository = t.app.get(WebhookEventsRepository);
    context = t.app.get(RequestContext);
    tenantId = (await createTenant(t)).tenantId;
    otherTenantId = (await createTenant(t)).tenantId;
  });

  afterAll(async () => {
    await t.close();
  });

  async function insertRow(tenant: string): Promise<string> {
    const stripeEventId = `evt_${randomBytes(10).toString('hex')}`;
    const id = await context.runAsTenant(tenant, () =>
      repository.insertIfNew({
        tenantId: tenant,
        stripeEventId,
        type: 'balance.available',
        livemode: false,
        apiVersion: '2026-11-18.endive',
        stripeCreated: nowSeconds(),
        rawBody: Buffer.from(JSON.stringify({ id: stripeEventId, object: 'event' })),
        verifiedBy: 'endpoint',
      }),
    );
    if (id === null) {
      throw new Error(`Inbox row for ${stripeEventId} was not inserted`);
    }

    return id;
  }

  async function storedRow(id: string): Promise<StoredRow> {
    const rows: StoredRow[] = await dataSource.query(`SELECT status, reason, attempts, processed_at FROM webhook_events WHERE id = $1`, [id]);

    return rows[0];
  }

  it('claims each row of a batch in order', async () => {
    const first = await insertRow(tenantId);
    const second = await insertRow(tenantId);

    const claimed = await context.runAsTenant(tenantId, () =>
      repository.claimBatch(tenantId, [
        { id: second, generation: 0 },
        { id: first, generation: 0 },
      ]),
    );

    expect(claimed.map((event) => event?.id)).toEqual([second, first]);
    expect(claimed.map((event) => event?.attempts)).toEqual([1, 1]);
    expect((await storedRow(first)).status).toBe('processing');
    expect((await storedRow(second)).status).toBe('processing');
  });

  it('claims rows by their partition key', async () => {
    const keyed = await insertRow(tenantId);
    const misdated = await insertRow(tenantId);
    const unkeyed = await insertRow(tenantId);
    const [{ created }] = await dataSource.query(`SELECT stripe_created::int AS created FROM webhook_events WHERE id = $1`, [keyed]);

    const claimed = await context.runAsTenant(tenantId, () =>
      repository.claimBatch(tenantId, [
        { id: unkeyed, generation: 0 },
        { id: keyed, generation: 0, stripeCreated: created },
        { id: misdated, generation: 0, stripeCreated: created - 86_400 },
      ]),
    );

    expect(claimed.map((event) => event?.id ?? null)).toEqual([unkeyed, keyed, null]);
    expect(claimed[1]?.stripeCreated).toBe(created);
    expect((await storedRow(misdated)).status).toBe('received');
  });

  it('gives a row named twice in a batch to one claim', async () => {
    const id = await insertRow(tenantId);

    const claimed = await context.runAsTenant(tenantId, () =>
      repository.claimBatch(tenantId, [
        { id, generation: 0 },
        { id, generation: 0 },
      ]),
    );

    expect(claimed[0]?.id).toBe(id);
    expect(claimed[1]).toBeNull();
    expect((await storedRow(id)).attempts).toBe(1);
  });

  it('skips rows of another generation, finished rows and other tenants', async () => {
    const moved = await insertRow(tenantId);
    await dataSource.query(`UPDATE webhook_events SET job_generation = 1 WHERE id = $1`, [moved]);
    const finished = await insertRow(tenantId);
    await dataSource.query(`UPDATE webhook_events SET status = 'ignored', reason = 'unhandled_type' WHERE id = $1`, [finished]);
    const foreign = await insertRow(otherTenantId);
    const open = await insertRow(tenantId);

    const claimed = await context.runAsTenant(tenantId, () =>
      repository.claimBatch(tenantId, [
        { id: moved, generation: 0 },
        { id: finished, generation: 0 },
        { id: foreign, generation: 0 },
        { id: open, generation: 0 },
      ]),
    );

    expect(claimed.map((event) => event?.id ?? null)).toEqual([null, null, null, open]);
    expect((await storedRow(moved)).attempts).toBe(0);
    expect((await storedRow(finished)).status).toBe('ignored');
    expect((await storedRow(foreign)).status).toBe('received');
  });

  it('records each outcome of a batch on its own row', async () => {
    const processed = await insertRow(tenantId);
    const ignored = await insertRow(tenantId);
    const moved = await insertRow(tenantId);
    const claimed = await context.runAsTenant(tenantId, () =>
      repository.claimBatch(tenantId, [
        { id: processed, generation: 0 },
        { id: ignored, generation: 0 },
        { id: moved, generation: 0 },
      ]),
    );
    const [processedKey, ignoredKey, movedKey] = claimed.map((event) => event?.stripeCreated ?? 0);
    // The sweeper handed this row to a new job meanwhile, so the old job's outcome must not land.
    await dataSource.query(`UPDATE webhook_events SET job_generation = 1 WHERE id = $1`, [moved]);

    await context.runAsTenant(tenantId, () =>
      repository.recordOutcomes(tenantId, [
        { id: processed, stripeCreated: processedKey, generation: 0, status: 'processed', reason: null },
        { id: ignored, stripeCreated: ignoredKey, generation: 0, status: 'ignored', reason: 'unknown_object' },
        { id: moved, stripeCreated: movedKey, generation: 0, status: 'processed', reason: null },
      ]),
    );

    const processedRow = await storedRow(processed);
    expect(processedRow.status).toBe('processed');
    expect(processedRow.processed_at).not.toBeNull();
    expect(await storedRow(ignored)).toMatchObject({ status: 'ignored', reason: 'unknown_object' });
    expect(await storedRow(moved)).toMatchObject({ status: 'processing', processed_at: null });
  });
});
