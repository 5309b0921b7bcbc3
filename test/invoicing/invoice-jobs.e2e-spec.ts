import {
  JOB_ISSUE_INVOICE,
  JOB_MARK_OVERDUE_INVOICES,
  JOB_RECONCILE_INVOICES,
  JOB_RECONCILE_TENANT_INVOICES,
  JOB_SEND_INVOICE,
  JOB_SWEEP_INVOICE_JOBS,
  QUEUE_INVOICES,
  jobIdFor,
} from '@app/common/queues/queue-names';
import { getQueueToken } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import request from 'supertest';
import { InvoiceCalendarService } from '../../src/modules/invoicing/invoice-calendar.service';
import { InvoiceJobQueue } from '../../src/modules/invoicing/invoice-job-queue';
import { InvoiceStripeSyncService } from '../../src/modules/invoicing/invoice-stripe-sync.service';
import { InvoicesRepository } from '../../src/modules/invoicing/invoices.repository';
import { IssueInvoiceJob } from '../../src/modules/invoicing/issue-invoice.job';
import { MarkOverdueInvoicesJob } from '../../src/modules/invoicing/mark-overdue-invoices.job';
import { InvoicesProcessor } from '../../src/modules/invoicing/invoices.processor';
import { ReconcileInvoicesJob } from '../../src/modules/invoicing/reconcile-invoices.job';
import { SendInvoiceJob } from '../../src/modules/invoicing/send-invoice.job';
import { StripeInvoicesGateway } from '../../src/modules/invoicing/stripe-invoices.gateway';
import { SweepInvoiceJobsJob, SweepInvoiceJobsResult } from '../../src/modules/invoicing/sweep-invoice-jobs.job';
import { storedKeysInvalid } from '../../src/modules/stripe-connection/stripe-connection.errors';
import { StripeConnectionService } from '../../src/modules/stripe-connection/stripe-connection.service';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import {
  B2bTenant,
  INVOICES,
  InvoiceBody,
  PAYMENTS,
  connectedB2bTenant,
  dataSource,
  draftFor,
  finalize,
  getInvoice,
  injectFaults,
  invoiceWhen,
  jobSettings,
  keyChangesApplied,
  openInvoice,
  settleInvoiceWork,
  stripeInvoicesOf,
} from './invoicing-helpers';

describe('invoice jobs', () => {
  let t: TestApp;
  let queue: Queue;

  beforeAll(async () => {
    t = await startTestApp();
    queue = t.app.get<Queue>(getQueueToken(QUEUE_INVOICES));
    // The emulator's search index lags 1 s; an empty search older than this proves nothing was created.
    jobSettings(t).searchSettleMs = 1_500;
  });

  afterAll(async () => {
    await settleInvoiceWork(t);
    await t.close();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  /** Finalizes a new draft without enqueueing its issuing job, as when Redis is away at the commit. */
  async function finalizedWithoutJob(tenant: B2bTenant): Promise<{ id: string; number: string }> {
    const draft = await draftFor(t, tenant);
    await keyChangesApplied(t, tenant);
    jest.spyOn(t.app.get(InvoiceJobQueue), 'enqueueAfterCommit').mockResolvedValueOnce();
    const response = await finalize(t, tenant, draft.id).expect(200);

    return { id: draft.id, number: response.body.number };
  }

  async function issueJobOf(invoiceId: string): Promise<Job> {
    return eventually(async () => (await queue.getJob(jobIdFor('issue-invoice', invoiceId))) ?? undefined);
  }

  async function failedJob(invoiceId: string): Promise<Job> {
    return eventually(async () => {
      // The job is read after its state, so a job that fails between the two reads still carries its failedReason.
      const state = await queue.getJobState(jobIdFor('issue-invoice', invoiceId));
      const job = state === 'failed' ? await queue.getJob(jobIdFor('issue-invoice', invoiceId)) : undefined;

      return job ?? undefined;
    });
  }

  async function reconnect(tenant: B2bTenant): Promise<void> {
    await t
      .http()
      .post('/api/v1/settings/billing/stripe')
      .set(tenant.auth)
      .send({ publishableKey: tenant.account.test.publishableKey, secretKey: tenant.account.test.secretKey })
      .expect(201);
  }

  describe('issuing retried', () => {
    it('creates one Stripe invoice when the issuing job runs three times at once', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      const job = t.app.get(IssueInvoiceJob);
      const data = { tenantId: tenant.tenantId, invoiceId: invoice.id };

      await Promise.allSettled([job.run(data), job.run(data), job.run(data)]);
      const issued = await getInvoice(t, tenant, invoice.id);
      const inStripe = await stripeInvoicesOf(tenant, invoice.id);
      const lines = await tenant.stripe.invoices.listLineItems(inStripe[0].id);

      expect(issued.status).toBe('open');
      expect(inStripe).toHaveLength(1);
      expect(inStripe[0].status).toBe('open');
      expect(lines.data).toHaveLength(2);
    });

    it('lists Stripe\'s items only when retrying', async () => {
      const tenant = await connectedB2bTenant(t);
      const first = await finalizedWithoutJob(tenant);
      const retried = await finalizedWithoutJob(tenant);
      const job = t.app.get(IssueInvoiceJob);
      const gateway = t.app.get(StripeInvoicesGateway);
      const addLineInStripe = gateway.addLine.bind(gateway);
      const attachedLinePositions = jest.spyOn(gateway, 'attachedLinePositions');

      await job.run({ tenantId: tenant.tenantId, invoiceId: first.id });
      const listedForFirst = attachedLinePositions.mock.calls.length;
      // The first attempt stops after attaching the first of the two lines.
      jest.spyOn(gateway, 'addLine').mockImplementationOnce(addLineInStripe).mockRejectedValueOnce(new Error('worker stopped'));
      await job.run({ tenantId: tenant.tenantId, invoiceId: retried.id }).catch(() => undefined);
      await job.run({ tenantId: tenant.tenantId, invoiceId: retried.id });
      const [firstInStripe] = await stripeInvoicesOf(tenant, first.id);
      const [retriedInStripe] = await stripeInvoicesOf(tenant, retried.id);

      expect(listedForFirst).toBe(0);
      expect(attachedLinePositions).toHaveBeenCalledTimes(1);
      expect((await tenant.stripe.invoices.listLineItems(firstInStripe.id)).data).toHaveLength(2);
      expect((await tenant.stripe.invoices.listLineItems(retriedInStripe.id)).data).toHaveLength(2);
      expect((await getInvoice(t, tenant, retried.id)).status).toBe('open');
    });

    it('finds an unstored Stripe invoice by search', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      const createDraft = jest.spyOn(t.app.get(StripeInvoicesGateway), 'createDraft');
      const findByInvoiceId = jest.spyOn(t.app.get(StripeInvoicesGateway), 'findByInvoiceId');
      // The process "crashes" right after Stripe created the draft, before the id is stored.
      jest.spyOn(t.app.get(InvoicesRepository), 'storeStripeInvoiceId').mockRejectedValueOnce(new Error('connection to the database lost'));

      await t.app.get(InvoiceJobQueue).enqueue('issue', { tenantId: tenant.tenantId, invoiceId: invoice.id });
      // Stripe's invoice.finalized event can open the invoice before the job records its success and clears the error.
      const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open' && candidate.stripeError === null, 30_000);
      const inStripe = await stripeInvoicesOf(tenant, invoice.id);

      expect(createDraft).toHaveBeenCalledTimes(1);
      expect(findByInvoiceId).toHaveBeenCalled();
      expect(inStripe.map((candidate) => candidate.id)).toEqual([issued.stripeInvoiceId]);
      expect(issued.number).toBe(invoice.number);
      expect((await issueJobOf(invoice.id)).attemptsStarted).toBeGreaterThanOrEqual(2);
    });

    it('waits for Stripe\'s search to show an invoice whose create key Stripe has forgotten', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      const customer = await dataSource(t).query(
        `SELECT c.stripe_customer_id FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.id = $1`,
        [invoice.id],
      );
      // An earlier attempt created the draft under a key Stripe no longer keeps (more than 24 hours ago).
      const earlier = await tenant.stripe.invoices.create(
        {
          customer: customer[0].stripe_customer_id,
          collection_method: 'send_invoice',
          days_until_due: 30,
          currency: 'usd',
          number: invoice.number,
          metadata: { billingInvoiceId: invoice.id, billingTenantId: tenant.tenantId },
        },
        { idempotencyKey: 'an-expired-key' },
      );
      await dataSource(t).query(`UPDATE invoices SET stripe_create_attempted_at = now() WHERE id = $1`, [invoice.id]);
      const createDraft = jest.spyOn(t.app.get(StripeInvoicesGateway), 'createDraft');

      await t.app.get(InvoiceJobQueue).enqueue('issue', { tenantId: tenant.tenantId, invoiceId: invoice.id });
      // Stripe's invoice.finalized event can open the invoice before the job records its success and clears the error.
      const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open' && candidate.stripeError === null, 30_000);

      expect(issued.stripeInvoiceId).toBe(earlier.id);
      expect(createDraft).not.toHaveBeenCalled();
      expect((await issueJobOf(invoice.id)).attemptsStarted).toBeGreaterThanOrEqual(2);
      expect(await stripeInvoicesOf(tenant, invoice.id)).toHaveLength(1);
    });
  });

  describe('sending', () => {
    it('skips the row lock when Stripe changes nothing', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      // The send job is run below by hand, so the issuing job must not enqueue it.
      jest.spyOn(t.app.get(InvoiceJobQueue), 'enqueue').mockResolvedValueOnce();
      await t.app.get(IssueInvoiceJob).run({ tenantId: tenant.tenantId, invoiceId: invoice.id });
      const apply = jest.spyOn(t.app.get(InvoiceStripeSyncService), 'apply');

      const result = await t.app.get(SendInvoiceJob).run({ tenantId: tenant.tenantId, invoiceId: invoice.id });
      const sent = await getInvoice(t, tenant, invoice.id);

      expect(result).toMatchObject({ result: 'done' });
      expect(apply).not.toHaveBeenCalled();
      expect(sent.status).toBe('open');
      expect(sent.sentAt).not.toBeNull();
    });
  });

  describe('applying Stripe\'s answer', () => {
    it('opens an issued invoice without the row lock', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      // Stripe's invoice.finalized event could open the invoice first, which takes the locked path.
      for (const endpoint of (await tenant.stripe.webhookEndpoints.list()).data) {
        await tenant.stripe.webhookEndpoints.del(endpoint.id);
      }
      const apply = jest.spyOn(t.app.get(InvoiceStripeSyncService), 'apply');

      const result = await t.app.get(IssueInvoiceJob).run({ tenantId: tenant.tenantId, invoiceId: invoice.id });
      const issued = await getInvoice(t, tenant, invoice.id);

      expect(result).toMatchObject({ result: 'done', status: 'open' });
      expect(apply).not.toHaveBeenCalled();
      expect(issued.status).toBe('open');
      expect(issued.hostedInvoiceUrl).not.toBeNull();
    });

    it('takes the row lock after a change since the read', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);
      const sync = t.app.get(InvoiceStripeSyncService);
      const stale = await t.app.get(InvoicesRepository).findEntity(tenant.tenantId, open.id);
      if (!stale) {
        throw new Error(`Invoice ${open.id} was not found`);
      }
      // As read before the issuing job opened the invoice.
      Object.assign(stale, { status: 'issuing', hostedInvoiceUrl: null, pdfUrl: null });
      const stripeInvoice = await tenant.stripe.invoices.retrieve(open.stripeInvoiceId ?? '');
      const apply = jest.spyOn(sync, 'apply');

      const outcome = await sync.applyOptimistically(stale, stripeInvoice, 'issue job');

      expect(apply).toHaveBeenCalledTimes(1);
      expect(outcome).toEqual({ matched: true, changed: false, from: 'open', to: 'open' });
      expect((await getInvoice(t, tenant, open.id)).status).toBe('open');
    });
  });

  describe('voiding in Stripe', () => {
    it('deletes the Stripe draft of an invoice voided mid-issue', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      // The issuing job stops after creating the Stripe draft, before attaching its items.
      jest.spyOn(t.app.get(StripeInvoicesGateway), 'addLine').mockRejectedValueOnce(new Error('worker stopped'));
      await t.app.get(IssueInvoiceJob).run({ tenantId: tenant.tenantId, invoiceId: invoice.id }).catch(() => undefined);
      const draftId = (await stripeInvoicesOf(tenant, invoice.id))[0].id;

      await t.http().post(`${INVOICES}/${invoice.id}/void`).set(tenant.auth).send().expect(200);
      await eventually(async () => ((await stripeInvoicesOf(tenant, invoice.id)).length === 0 ? true : undefined));
      const voided = await getInvoice(t, tenant, invoice.id);

      await expect(tenant.stripe.invoices.retrieve(draftId)).rejects.toThrow(/No such invoice/);
      expect(voided.status).toBe('void');
      expect(voided.number).toBe(invoice.number);
    });

    it('keeps an invoice paid that Stripe collected before the void reached it', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);
      for (const endpoint of (await tenant.stripe.webhookEndpoints.list()).data) {
        await tenant.stripe.webhookEndpoints.del(endpoint.id);
      }
      await tenant.stripe.invoices.pay(open.stripeInvoiceId ?? '', { paid_out_of_band: true });

      const response = await t.http().post(`${INVOICES}/${open.id}/void`).set(tenant.auth).send();
      const corrected = await invoiceWhen(t, tenant, open.id, (invoice) => invoice.status === 'paid');

      expect(response.body.status).toBe('void');
      expect(corrected.voidedAt).toBeNull();
      expect(corrected.number).toBe(open.number);
      expect(corrected.amountPaid).toBe(open.total);
    });
  });

  describe('retried failures', () => {
    it('shows each failed attempt on the invoice', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      const gateway = t.app.get(StripeInvoicesGateway);
      const createDraft = gateway.createDraft.bind(gateway);
      // Faults hit the account's next requests, so they are added just before the create is sent.
      // Two, because stripe-node retries a 500 once before the attempt fails.
      jest.spyOn(gateway, 'createDraft').mockImplementationOnce(async (...args) => {
        await injectFaults(t, tenant, 2, '500');

        return createDraft(...args);
      });

      await t.app.get(InvoiceJobQueue).enqueue('issue', { tenantId: tenant.tenantId, invoiceId: invoice.id });
      const failing = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.stripeError !== null);
      // Stripe's invoice.finalized event can open the invoice before the job records its success and clears the error.
      const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open' && candidate.stripeError === null, 30_000);

      expect(failing.status).toBe('issuing');
      expect(failing.stripeError?.job).toBe('issue');
      expect(failing.stripeError?.code).toBe('stripe_unavailable');
      expect(failing.stripeError?.message).toMatch(/ \(attempt 1 of 10, retrying\)$/);
      expect(issued.stripeError).toBeNull();
    });

    it('clears no error after attempts that found none', async () => {
      const tenant = await connectedB2bTenant(t);
      const clearStripeError = jest.spyOn(t.app.get(InvoicesRepository), 'clearStripeError');

      const open = await openInvoice(t, tenant);
      for (const name of [JOB_ISSUE_INVOICE, JOB_SEND_INVOICE]) {
        await eventually(async () => ((await queue.getJobState(jobIdFor(name, open.id))) === 'completed' ? true : undefined));
      }

      expect(clearStripeError.mock.calls.filter(([, invoiceId]) => invoiceId === open.id)).toEqual([]);
      expect((await getInvoice(t, tenant, open.id)).stripeError).toBeNull();
    });

    it('shows the current attempt while Stripe\'s search may lag', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      const gateway = t.app.get(StripeInvoicesGateway);
      const createDraft = gateway.createDraft.bind(gateway);
      // A 500 leaves open whether Stripe created the invoice, so the next attempt waits for the search.
      jest.spyOn(gateway, 'createDraft').mockImplementationOnce(async (...args) => {
        await request(t.emulator.url).post('/_emulator/faults').send({ count: 2, kind: '500' }).expect(201);

        return createDraft(...args);
      });
      jobSettings(t).searchSettleMs = 60_000;

      let waiting: InvoiceBody;
      try {
        await t.app.get(InvoiceJobQueue).enqueue('issue', { tenantId: tenant.tenantId, invoiceId: invoice.id });
        waiting = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.stripeError?.message.includes('(attempt 2 of 10') === true, 10_000);
      } finally {
        jobSettings(t).searchSettleMs = 1_500;
      }
      const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open' && candidate.stripeError === null, 30_000);

      expect(waiting.status).toBe('issuing');
      expect(waiting.stripeError?.job).toBe('issue');
      expect(waiting.stripeError?.code).toBe('retry_later');
      expect(waiting.stripeError?.message).toMatch(/^Stripe's search does not show the invoice yet/);
      expect(waiting.stripeError?.message).toMatch(/ \(attempt 2 of 10, retrying\)$/);
      expect(issued.number).toBe(invoice.number);
      expect(await stripeInvoicesOf(tenant, invoice.id)).toHaveLength(1);
    });
  });

  describe('permanent failures', () => {
    it('fails at once, without retries, when Stripe rejects the key', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await keyChangesApplied(t, tenant);
      await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: tenant.account.test.secretKey }).expect(201);

      const finalized = await finalize(t, tenant, draft.id);
      const job = await failedJob(draft.id);
      const settings = await t.http().get('/api/v1/settings/billing').set(tenant.auth);
      const invoice = await getInvoice(t, tenant, draft.id);

      expect(job.attemptsStarted).toBe(1);
      expect(job.failedReason).toMatch(/^stripe_keys_invalid:/);
      expect(settings.body.stripe.status).toBe('error');
      expect(invoice.status).toBe('issuing');
      expect(invoice.number).toBe(finalized.body.number);
    });

    it('shows the failure on the invoice', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await keyChangesApplied(t, tenant);
      await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: tenant.account.test.secretKey }).expect(201);

      await finalize(t, tenant, draft.id).expect(200);
      await failedJob(draft.id);
      const invoice = await invoiceWhen(t, tenant, draft.id, (candidate) => candidate.stripeError !== null);

      expect(invoice.status).toBe('issuing');
      expect(invoice.stripeError).toEqual({
        job: 'issue',
        code: 'stripe_keys_invalid',
        message: expect.stringMatching(/^Stripe rejected the stored secret key/),
        failedAt: expect.any(String),
      });
      expect(invoice.stripeError?.message).not.toContain(tenant.account.test.secretKey);
    });

    it('fails once for a disconnected tenant', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);
      const errors = jest.spyOn(Logger.prototype, 'error');
      const warnings = jest.spyOn(Logger.prototype, 'warn');

      await t.app.get(InvoiceJobQueue).enqueue('issue', { tenantId: tenant.tenantId, invoiceId: invoice.id });
      const job = await failedJob(invoice.id);
      const aboutInvoice = (calls: unknown[][]) => calls.filter(([fields]) => (fields as { invoiceId?: string } | undefined)?.invoiceId === invoice.id);
      await dataSource(t).query(`UPDATE invoices SET updated_at = now() - interval '5 minutes' WHERE id = $1`, [invoice.id]);
      await t.app.get(SweepInvoiceJobsJob).run();
      const afterSweep = await queue.getJob(jobIdFor('issue-invoice', invoice.id));

      expect(job.attemptsStarted).toBe(1);
      expect(job.failedReason).toMatch(/^stripe_not_connected:/);
      expect(await afterSweep?.getState()).toBe('failed');
      expect(afterSweep?.attemptsStarted).toBe(1);
      // The tenant's own disconnect stops the job until it connects again, which is no error of the service.
      expect(aboutInvoice(errors.mock.calls)).toEqual([]);
      expect(aboutInvoice(warnings.mock.calls).map(([, message]) => message)).toContain(
        "Invoice job is waiting for the tenant's Stripe connection and runs again when the tenant connects or fixes its keys",
      );
    });

    it('is issued once the tenant is connected again', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);
      await t.app.get(InvoiceJobQueue).enqueue('issue', { tenantId: tenant.tenantId, invoiceId: invoice.id });
      await failedJob(invoice.id);

      const failed = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.stripeError !== null);

      await reconnect(tenant);
      const result = await t.app.get(ReconcileInvoicesJob).reconcileTenant({ tenantId: tenant.tenantId });
      const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open' && candidate.stripeError === null);

      expect(failed.stripeError).toMatchObject({ job: 'issue', code: 'stripe_not_connected' });
      // The reconnect's key-change handler restarts the failed job too, so the reconciliation finds it either failed or already running.
      expect([0, 1]).toContain(result.requeued);
      expect(issued.number).toBe(invoice.number);
    });
  });

  describe('Stripe key changes', () => {
    const KEYS = '/api/v1/settings/billing/stripe/keys';

    async function newTestKeys(tenant: B2bTenant): Promise<{ publishableKey: string; secretKey: string }> {
      const response = await request(t.emulator.url).post(`/_emulator/accounts/${tenant.account.id}/keys`).send({ mode: 'test' }).expect(201);

      return { publishableKey: response.body.publishableKey, secretKey: response.body.secretKey };
    }

    async function revokeOldKey(tenant: B2bTenant): Promise<void> {
      await keyChangesApplied(t, tenant);
      await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: tenant.account.test.secretKey }).expect(201);
    }

    it('creates at once after Stripe rejected the key', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      const keys = await newTestKeys(tenant);
      const gateway = t.app.get(StripeInvoicesGateway);
      const createDraft = gateway.createDraft.bind(gateway);
      const findByInvoiceId = jest.spyOn(gateway, 'findByInvoiceId');
      // The tenant replaces its key while the create runs with the old one, so Stripe rejects it with 401.
      jest.spyOn(gateway, 'createDraft').mockImplementationOnce(async (...args) => {
        await t.http().put(KEYS).set(tenant.auth).send(keys).expect(200);
        await revokeOldKey(tenant);

        return createDraft(...args);
      });
      // A create attempt Stripe may have carried out would make the next attempt wait this long.
      jobSettings(t).searchSettleMs = 60_000;

      try {
        await t.app.get(InvoiceJobQueue).enqueue('issue', { tenantId: tenant.tenantId, invoiceId: invoice.id });
        const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open', 15_000);

        expect(issued.number).toBe(invoice.number);
        expect(findByInvoiceId).not.toHaveBeenCalled();
        expect((await issueJobOf(invoice.id)).attemptsStarted).toBe(2);
      } finally {
        jobSettings(t).searchSettleMs = 1_500;
      }
    });

    it('runs a delayed issue job when the keys change', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      // As a job waiting out a long backoff.
      await queue.add(JOB_ISSUE_INVOICE, { tenantId: tenant.tenantId, invoiceId: invoice.id }, { jobId: jobIdFor(JOB_ISSUE_INVOICE, invoice.id), delay: 600_000 });
      const delayed = await (await issueJobOf(invoice.id)).getState();

      await t.http().put(KEYS).set(tenant.auth).send(await newTestKeys(tenant)).expect(200);
      const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open', 15_000);

      expect(delayed).toBe('delayed');
      expect(issued.number).toBe(invoice.number);
    });

    /** Turns the connection to `error` as a Stripe call whose key Stripe rejected would, without revoking the key. */
    async function failConnection(tenant: B2bTenant): Promise<void> {
      await keyChangesApplied(t, tenant);
      await t.app.get(StripeConnectionService).recordConnectionFailure(tenant.tenantId, storedKeysInvalid(), 'stripe_call');
    }

    async function verify(tenant: B2bTenant): Promise<string> {
      const response = await t.http().post('/api/v1/settings/billing/stripe/verify').set(tenant.auth).send().expect(200);

      return response.body.stripe.status;
    }

    it('restarts a failed issue job when verify restores the connection', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      await failConnection(tenant);
      await t.app.get(InvoiceJobQueue).enqueue('issue', { tenantId: tenant.tenantId, invoiceId: invoice.id });
      const failed = await failedJob(invoice.id);

      const status = await verify(tenant);
      const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open' && candidate.stripeError === null, 15_000);

      expect(failed.failedReason).toMatch(/^stripe_keys_invalid:/);
      expect(status).toBe('connected');
      expect(issued.number).toBe(invoice.number);
    });

    it('runs a delayed issue job when verify restores the connection', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      await failConnection(tenant);
      // As a job waiting out a long backoff.
      await queue.add(JOB_ISSUE_INVOICE, { tenantId: tenant.tenantId, invoiceId: invoice.id }, { jobId: jobIdFor(JOB_ISSUE_INVOICE, invoice.id), delay: 600_000 });

      const status = await verify(tenant);
      const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open', 15_000);

      expect(status).toBe('connected');
      expect(issued.number).toBe(invoice.number);
    });

    it('restarts an issue job that failed on the old key', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await revokeOldKey(tenant);
      await finalize(t, tenant, draft.id).expect(200);
      const failed = await failedJob(draft.id);

      await t.http().put(KEYS).set(tenant.auth).send(await newTestKeys(tenant)).expect(200);
      const issued = await invoiceWhen(t, tenant, draft.id, (candidate) => candidate.status === 'open' && candidate.stripeError === null, 15_000);

      expect(failed.failedReason).toMatch(/^stripe_keys_invalid:/);
      expect(issued.stripeInvoiceId).not.toBeNull();
    });
  });

  describe('job sweeper', () => {
    it('enqueues the issuing job a finalize could not enqueue', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);
      // The worker's own sweep runs every 30 s and could take the aged invoice first.
      const worker = t.app.get(InvoicesProcessor).worker;
      await worker.pause(true);
      let result: SweepInvoiceJobsResult;
      try {
        await dataSource(t).query(`UPDATE invoices SET updated_at = now() - interval '5 minutes' WHERE id = $1`, [invoice.id]);
        result = await t.app.get(SweepInvoiceJobsJob).run();
      } finally {
        worker.resume();
      }
      const issued = await invoiceWhen(t, tenant, invoice.id, (candidate) => candidate.status === 'open' && candidate.sentAt !== null);

      expect(result.enqueued).toBeGreaterThanOrEqual(1);
      expect(issued.number).toBe(invoice.number);
    });

    it('leaves invoices changed within the grace period to their own jobs', async () => {
      const tenant = await connectedB2bTenant(t);
      const invoice = await finalizedWithoutJob(tenant);

      await t.app.get(SweepInvoiceJobsJob).run();

      expect(await queue.getJob(jobIdFor('issue-invoice', invoice.id))).toBeUndefined();
    });
  });

  describe('schedulers', () => {
    it('schedules the sweep, the overdue check and the reconciliation at worker start', async () => {
      const schedulers = await eventually(async () => {
        const found = await queue.getJobSchedulers();

        return found.length >= 3 ? found : undefined;
      });

      expect(schedulers.map((scheduler) => scheduler.key).sort()).toEqual(
        [JOB_MARK_OVERDUE_INVOICES, JOB_RECONCILE_INVOICES, JOB_SWEEP_INVOICE_JOBS].sort(),
      );
    });
  });

  describe('overdue check', () => {
    /** 2027-01-05 in Tokyo (UTC+9, no daylight saving time) at the given local time. */
    function tokyo(date: string, time: string): Date {
      return new Date(`${date}T${time}+09:00`);
    }

    it('marks overdue after the local due date', async () => {
      const tenant = await connectedB2bTenant(t, 'Asia/Tokyo');
      const open = await openInvoice(t, tenant, { daysUntilDue: 1 });
      const dueDate = open.dueDate ?? '';
      const nextDay = new Date(Date.parse(`${dueDate}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
      const calendar = t.app.get(InvoiceCalendarService);

      jest.spyOn(calendar, 'now').mockReturnValue(tokyo(dueDate, '23:59:59'));
      await t.app.get(MarkOverdueInvoicesJob).run();
      const onDueDate = await getInvoice(t, tenant, open.id);
      jest.spyOn(calendar, 'now').mockReturnValue(tokyo(nextDay, '00:00:01'));
      await t.app.get(MarkOverdueInvoicesJob).run();
      const dayAfter = await getInvoice(t, tenant, open.id);
      const listed = await t.http().get(INVOICES).query({ overdue: 'true' }).set(tenant.auth);

      expect(onDueDate.overdue).toBe(false);
      expect(dayAfter.overdue).toBe(true);
      expect(listed.body.data.map((invoice: { id: string }) => invoice.id)).toEqual([open.id]);
    });

    it('clears overdue when the invoice is paid', async () => {
      const tenant = await connectedB2bTenant(t, 'Asia/Tokyo');
      const open = await openInvoice(t, tenant, { daysUntilDue: 1 });
      jest.spyOn(t.app.get(InvoiceCalendarService), 'now').mockReturnValue(new Date(Date.now() + 3 * 86_400_000));
      await t.app.get(MarkOverdueInvoicesJob).run();
      await invoiceWhen(t, tenant, open.id, (invoice) => invoice.overdue);

      await tenant.stripe.invoices.pay(open.stripeInvoiceId ?? '', { paid_out_of_band: true });
      const paid = await invoiceWhen(t, tenant, open.id, (invoice) => invoice.status === 'paid');

      expect(paid.overdue).toBe(false);
    });

    it('runs as a job on the invoices queue', async () => {
      const tenant = await connectedB2bTenant(t, 'Asia/Tokyo');
      const open = await openInvoice(t, tenant, { daysUntilDue: 1 });
      await dataSource(t).query(`UPDATE invoices SET due_date = due_date - 5 WHERE id = $1`, [open.id]);

      await queue.add(JOB_MARK_OVERDUE_INVOICES, {}, { jobId: `overdue-test-${open.id}` });
      const overdue = await invoiceWhen(t, tenant, open.id, (invoice) => invoice.overdue);

      expect(overdue.status).toBe('open');
    });
  });

  describe('reconciliation', () => {
    it('corrects a payment no event reported', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);
      for (const endpoint of (await tenant.stripe.webhookEndpoints.list()).data) {
        await tenant.stripe.webhookEndpoints.del(endpoint.id);
      }
      await tenant.stripe.invoices.pay(open.stripeInvoiceId ?? '', { paid_out_of_band: true });
      const stillOpen = await getInvoice(t, tenant, open.id);

      const result = await t.app.get(ReconcileInvoicesJob).reconcileTenant({ tenantId: tenant.tenantId });
      const corrected = await getInvoice(t, tenant, open.id);

      expect(stillOpen.status).toBe('open');
      expect(result.corrected).toBe(1);
      expect(corrected.status).toBe('paid');
      expect(corrected.amountPaid).toBe(open.total);
    });

    it('changes nothing where the service and Stripe agree', async () => {
      const tenant = await connectedB2bTenant(t);
      await openInvoice(t, tenant);

      const result = await t.app.get(ReconcileInvoicesJob).reconcileTenant({ tenantId: tenant.tenantId });

      expect(result).toEqual({ result: 'done', checked: 1, corrected: 0, requeued: 0, unreadable: 0 });
    });

    it('skips a disconnected tenant', async () => {
      const tenant = await connectedB2bTenant(t);
      await openInvoice(t, tenant);
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);

      const result = await t.app.get(ReconcileInvoicesJob).reconcileTenant({ tenantId: tenant.tenantId });

      expect(result.result).toBe('skipped');
      expect(result.reason).toBe('tenant_disconnected');
    });

    it('enqueues one reconciliation job per tenant with open invoices', async () => {
      const tenant = await connectedB2bTenant(t);
      await openInvoice(t, tenant);

      await t.app.get(ReconcileInvoicesJob).fanOut('2030-01-01');
      const job = await queue.getJob(jobIdFor(JOB_RECONCILE_TENANT_INVOICES, `${tenant.tenantId}-2030-01-01`));

      expect(job?.data).toEqual({ tenantId: tenant.tenantId });
    });
  });

  describe('refunds of card payments', () => {
    it('shows the refunded amount on the payment\'s invoice without changing its number or lines', async () => {
      const tenant = await connectedB2bTenant(t);
      const payment = await t.http().post(PAYMENTS).set(tenant.auth).send({ amount: 8900, currency: 'usd', paymentMethod: 'pm_card_visa' }).expect(201);
      const linked = await eventually(async () => {
        const response = await t.http().get(`${PAYMENTS}/${payment.body.id}`).set(tenant.auth);

        return response.body.invoiceId ? (response.body.invoiceId as string) : undefined;
      });
      const before = await getInvoice(t, tenant, linked);

      await t.http().post(`${PAYMENTS}/${payment.body.id}/refunds`).set(tenant.auth).send({ amount: 3000 }).expect(201);
      const partly = await invoiceWhen(t, tenant, linked, (invoice) => invoice.amountRefunded === 3000);
      await t.http().post(`${PAYMENTS}/${payment.body.id}/refunds`).set(tenant.auth).send({}).expect(201);
      const fully = await invoiceWhen(t, tenant, linked, (invoice) => invoice.amountRefunded === 8900);

      expect(partly.number).toBe(before.number);
      expect(partly.lines).toEqual(before.lines);
      expect(fully.number).toBe(before.number);
      expect(fully.total).toBe(8900);
      expect(fully.status).toBe('paid');
    });
  });
});
