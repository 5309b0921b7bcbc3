import { QUEUE_INVOICES, jobIdFor } from '@app/common/queues/queue-names';
import { InvoiceIssuedEvent } from '@app/contracts/invoicing.contracts';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import request from 'supertest';
import { InvoiceCalendarService } from '../../src/modules/invoicing/invoice-calendar.service';
import { InvoiceJobQueue } from '../../src/modules/invoicing/invoice-job-queue';
import { InvoiceNumberingService } from '../../src/modules/invoicing/invoice-numbering.service';
import { InvoicesRepository } from '../../src/modules/invoicing/invoices.repository';
import { createOperatorAuth, createTenant, createToken } from '../support/factories';
import { EmulatorAccount, createEmulatorAccount } from '../support/stripe-account';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import {
  B2bTenant,
  INVOICES,
  MISSING_ID,
  PAYMENTS,
  TWO_LINES,
  connectedB2bTenant,
  createCustomer,
  createDraft,
  dataSource,
  draftFor,
  emitStripeEvent,
  finalize,
  getInvoice,
  injectFaults,
  invoiceWhen,
  jobSettings,
  keyChangesApplied,
  numberOf,
  openInvoice,
  settleInvoiceWork,
  stripeInvoicesOf,
  webhookEventsOf,
  yearIn,
} from './invoicing-helpers';

const LINES_MESSAGE = 'must be an array of 1 to 250 invoice lines, each an object with description, quantity and unitAmount';

describe('B2B invoices', () => {
  let t: TestApp;
  let operator: { Authorization: string };

  beforeAll(async () => {
    t = await startTestApp();
    operator = await createOperatorAuth(t);
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

  /** Sets the tenant's test-mode sequence of `year` so the next number is `next`. */
  async function setNextNumber(tenantId: string, year: number, next: number): Promise<void> {
    await dataSource(t).query(
      `INSERT INTO invoice_number_sequences (tenant_id, mode, year, last_value) VALUES ($1, 'test', $2, $3)
       ON CONFLICT (tenant_id, mode, year) DO UPDATE SET last_value = EXCLUDED.last_value`,
      [tenantId, year, next - 1],
    );
  }

  /** Disconnects the tenant's Stripe account and connects the test keys of a new emulator account. */
  async function reconnectToNewAccount(tenant: B2bTenant): Promise<EmulatorAccount> {
    await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);
    const account = await createEmulatorAccount(t);
    await t.http().post('/api/v1/settings/billing/stripe').set(tenant.auth).send(account.test).expect(201);

    return account;
  }

  describe('POST /api/v1/invoices', () => {
    it('creates a draft without a number', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: TWO_LINES, memo: 'PO 4711' });

      expect(response.status).toBe(201);
      expect(response.body.status).toBe('draft');
      expect(response.body.number).toBeNull();
      expect(response.body.customerId).toBe(customer.id);
      expect(response.body.total).toBe(12 * 8900 + 2500);
      expect(response.body.lines).toEqual([
        { description: 'CPR/AED class, 12 seats', quantity: 12, unitAmount: 8900, amount: 106_800 },
        { description: 'Course materials', quantity: 1, unitAmount: 2500, amount: 2500 },
      ]);
      expect(response.body.daysUntilDue).toBe(30);
      expect(response.body.dueDate).toBeNull();
      expect(response.body.memo).toBe('PO 4711');
      expect(response.body.stripeInvoiceId).toBeNull();
    });

    it('rejects a blank memo', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: TWO_LINES, memo: '\u00a0\n\u200b' });
      const list = await t.http().get(INVOICES).set(tenant.auth);

      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'memo', message: 'must not be blank' }]);
      expect(list.body.data).toEqual([]);
    });

    it('creates a draft with an empty memo or none', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const empty = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: TWO_LINES, memo: '' });
      const omitted = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: TWO_LINES });

      expect(empty.status).toBe(201);
      expect(empty.body.memo).toBe('');
      expect(omitted.status).toBe(201);
      expect(omitted.body.memo).toBeNull();
    });

    it('keeps given payment terms', async () => {
      const tenant = await connectedB2bTenant(t);

      const draft = await draftFor(t, tenant, { daysUntilDue: 14 });

      expect(draft.daysUntilDue).toBe(14);
    });

    it('rejects a draft without lines', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: [] });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'lines', message: LINES_MESSAGE }]);
    });

    it('rejects lines given as one object', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: TWO_LINES[0] });

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'lines', message: LINES_MESSAGE }]);
    });

    it('rejects a line that is not an object', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: [1] });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'lines.0', message: 'must be an invoice line: an object with description, quantity and unitAmount' }]);
    });

    it('rejects a line given as an array', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: [[TWO_LINES[0]], TWO_LINES[1]] });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'lines.0', message: 'must be an invoice line: an object with description, quantity and unitAmount' }]);
    });

    it('says what each field of an empty line expects', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: [{}] });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([
        { field: 'lines.0.description', message: 'is required: a non-blank string of at most 500 characters' },
        { field: 'lines.0.quantity', message: 'is required: an integer from 1 to 1000000' },
        { field: 'lines.0.unitAmount', message: "is required: an integer from 0 to 99999999 in the currency's minor unit" },
      ]);
    });

    it('rejects payment terms of 366 days', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', daysUntilDue: 366, lines: TWO_LINES });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('daysUntilDue');
    });

    it('rejects a currency Stripe does not charge in', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'xyz', lines: TWO_LINES });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('currency');
    });

    it('rejects a line of zero quantity', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);

      const response = await t
        .http()
        .post(INVOICES)
        .set(tenant.auth)
        .send({ customerId: customer.id, currency: 'usd', lines: [{ description: 'Seat', quantity: 0, unitAmount: 100 }] });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('lines.0.quantity');
    });

    it('rejects another tenant\'s customer like a missing one', async () => {
      const owner = await connectedB2bTenant(t);
      const rival = await connectedB2bTenant(t);
      const customer = await createCustomer(t, owner);

      const foreign = await t.http().post(INVOICES).set(rival.auth).send({ customerId: customer.id, currency: 'usd', lines: TWO_LINES });
      const missing = await t.http().post(INVOICES).set(rival.auth).send({ customerId: MISSING_ID, currency: 'usd', lines: TWO_LINES });

      expect(foreign.status).toBe(400);
      expect(foreign.body).toEqual(missing.body);
    });

    it('creates a draft for a customer of a disconnected account', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);
      await reconnectToNewAccount(tenant);

      const response = await t.http().post(INVOICES).set(tenant.auth).send({ customerId: customer.id, currency: 'usd', lines: TWO_LINES });

      expect(response.status).toBe(201);
      expect(response.body.status).toBe('draft');
    });

    it('forbids staff', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);
      const staff = await createToken(t, tenant.tenantId, 'staff');

      const response = await t.http().post(INVOICES).set(staff).send({ customerId: customer.id, currency: 'usd', lines: TWO_LINES });

      expect(response.status).toBe(403);
    });
  });

  describe('DELETE /api/v1/invoices/:id', () => {
    it('deletes a draft', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);

      const response = await t.http().delete(`${INVOICES}/${draft.id}`).set(tenant.auth);
      const after = await t.http().get(`${INVOICES}/${draft.id}`).set(tenant.auth);

      expect(response.status).toBe(204);
      expect(after.status).toBe(404);
    });

    it('refuses to delete a finalized invoice', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await finalize(t, tenant, draft.id).expect(200);

      const response = await t.http().delete(`${INVOICES}/${draft.id}`).set(tenant.auth);

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('invalid_state');
    });

    it('answers 404 for another tenant\'s draft', async () => {
      const owner = await connectedB2bTenant(t);
      const rival = await createTenant(t);
      const draft = await draftFor(t, owner);

      const response = await t.http().delete(`${INVOICES}/${draft.id}`).set(rival.auth);

      expect(response.status).toBe(404);
    });
  });

  describe('POST /api/v1/invoices/:id/finalize', () => {
    it('assigns the first number and moves the draft to issuing', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);

      const response = await finalize(t, tenant, draft.id);

      expect(response.status).toBe(200);
      expect(response.body.status).toBe('issuing');
      expect(response.body.number).toBe(numberOf(yearIn('America/Chicago'), 1));
      expect(response.body.issuedAt).toEqual(expect.any(String));
      expect(response.body.dueDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    });

    it('issues, opens and sends the invoice in Stripe', async () => {
      const tenant = await connectedB2bTenant(t);

      const invoice = await openInvoice(t, tenant, { memo: 'PO 4711', daysUntilDue: 14 });
      const stripeInvoice = await tenant.stripe.invoices.retrieve(invoice.stripeInvoiceId ?? '');
      const lines = await tenant.stripe.invoices.listLineItems(stripeInvoice.id);
      const sent = await tenant.stripe.events.list({ type: 'invoice.sent' });

      expect(invoice.hostedInvoiceUrl).toBe(stripeInvoice.hosted_invoice_url);
      expect(invoice.pdfUrl).toBe(stripeInvoice.invoice_pdf);
      expect(stripeInvoice.status).toBe('open');
      expect(stripeInvoice.number).toBe(invoice.number);
      expect(stripeInvoice.collection_method).toBe('send_invoice');
      expect(stripeInvoice.description).toBe('PO 4711');
      expect(stripeInvoice.due_date).toBe((stripeInvoice.status_transitions.finalized_at ?? 0) + 14 * 86_400);
      expect(stripeInvoice.metadata).toEqual({ billingInvoiceId: invoice.id, billingTenantId: tenant.tenantId });
      expect(stripeInvoice.total).toBe(invoice.total);
      expect(lines.data.map((line) => [line.description, line.quantity, line.amount])).toEqual([
        ['CPR/AED class, 12 seats', 12, 106_800],
        ['Course materials', 1, 2500],
      ]);
      expect(sent.data.map((event) => (event.data.object as { id: string }).id)).toEqual([stripeInvoice.id]);
    });

    it('issues an invoice with an empty memo', async () => {
      const tenant = await connectedB2bTenant(t);

      const invoice = await openInvoice(t, tenant, { memo: '' });
      const stripeInvoice = await tenant.stripe.invoices.retrieve(invoice.stripeInvoiceId ?? '');

      // Stripe refuses an empty description, so the memo is left out of the call.
      expect(invoice.memo).toBe('');
      expect(stripeInvoice.description).toBeNull();
    });

    it('numbers B2B and card-payment invoices from one sequence', async () => {
      const tenant = await connectedB2bTenant(t);
      const year = yearIn('America/Chicago');
      const payment = await t.http().post(PAYMENTS).set(tenant.auth).send({ amount: 8900, currency: 'usd', paymentMethod: 'pm_card_visa' });
      await eventually(async () => ((await t.http().get(`${PAYMENTS}/${payment.body.id}`).set(tenant.auth)).body.invoiceId ? true : undefined));
      const draft = await draftFor(t, tenant);

      const response = await finalize(t, tenant, draft.id);

      expect(response.body.number).toBe(numberOf(year, 2));
    });

    it('refuses a second finalize with 409 and takes no number', async () => {
      const tenant = await connectedB2bTenant(t);
      const year = yearIn('America/Chicago');
      const first = await draftFor(t, tenant);
      await finalize(t, tenant, first.id).expect(200);

      const again = await finalize(t, tenant, first.id);
      const next = await finalize(t, tenant, (await draftFor(t, tenant)).id);

      expect(again.status).toBe(409);
      expect(again.body.code).toBe('invalid_state');
      expect(next.body.number).toBe(numberOf(year, 2));
    });

    it('refuses with 409 stripe_not_connected and takes no number', async () => {
      const tenant = await connectedB2bTenant(t);
      const year = yearIn('America/Chicago');
      const draft = await draftFor(t, tenant);
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);

      const refused = await finalize(t, tenant, draft.id);
      await t
        .http()
        .post('/api/v1/settings/billing/stripe')
        .set(tenant.auth)
        .send({ publishableKey: tenant.account.test.publishableKey, secretKey: tenant.account.test.secretKey })
        .expect(201);
      const accepted = await finalize(t, tenant, draft.id);

      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('stripe_not_connected');
      expect(accepted.body.number).toBe(numberOf(year, 1));
    });

    it('rejects an undecryptable key without numbering', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      // A key id missing from APP_ENCRYPTION_KEY. The version goes up so no cached client is used.
      await dataSource(t).query(`UPDATE stripe_connections SET secret_key_key_id = 'retired', version = version + 1 WHERE tenant_id = $1`, [
        tenant.tenantId,
      ]);

      const rejected = await finalize(t, tenant, draft.id);
      // Disconnecting destroys the broken key, so later suites that decrypt every stored secret still can.
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);

      expect(rejected.status).toBe(422);
      expect(rejected.body.code).toBe('stripe_keys_invalid');
      expect((await getInvoice(t, tenant, draft.id)).status).toBe('draft');
      const sequences = await dataSource(t).query(`SELECT 1 FROM invoice_number_sequences WHERE tenant_id = $1`, [tenant.tenantId]);
      expect(sequences).toEqual([]);
    });

    it('answers 404 and 409 invalid_state before stripe_not_connected', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);

      const missing = await finalize(t, tenant, '00000000-0000-4000-8000-000000000000');
      const finalized = await finalize(t, tenant, open.id);

      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe('not_found');
      expect(finalized.status).toBe(409);
      expect(finalized.body.code).toBe('invalid_state');
      expect(finalized.body.status).toBe(409);
      expect(finalized.body.invoiceStatus).toBe('open');
    });

    it('rejects a customer of a disconnected account, taking no number', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);
      const other = await reconnectToNewAccount(tenant);
      const draft = await createDraft(t, tenant, customer.id);

      const rejected = await finalize(t, tenant, draft.id);
      const sequences = await dataSource(t).query(`SELECT * FROM invoice_number_sequences WHERE tenant_id = $1`, [tenant.tenantId]);
      const stored = await getInvoice(t, tenant, draft.id);

      expect(rejected.status).toBe(409);
      expect(rejected.body.code).toBe('invalid_state');
      expect(rejected.body.detail).toContain(`belongs to Stripe account ${tenant.account.id}, which is no longer connected`);
      expect(rejected.body.detail).toContain(`connected to ${other.id}`);
      expect(rejected.body.detail).toContain('Create the customer again under the connected account');
      expect(stored.status).toBe('draft');
      expect(stored.number).toBeNull();
      expect(sequences).toEqual([]);
    });

    it('finalizes for a customer created under the new account', async () => {
      const tenant = await connectedB2bTenant(t);
      const year = yearIn('America/Chicago');
      await createCustomer(t, tenant);
      await reconnectToNewAccount(tenant);

      const response = await finalize(t, tenant, (await draftFor(t, tenant)).id);

      expect(response.status).toBe(200);
      expect(response.body.number).toBe(numberOf(year, 1));
    });

    it('rejects keys in error, taking no number', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: tenant.account.test.secretKey }).expect(201);
      await t.http().post('/api/v1/settings/billing/stripe/verify').set(tenant.auth).expect(200);

      const refused = await finalize(t, tenant, draft.id);
      const sequences = await dataSource(t).query(`SELECT * FROM invoice_number_sequences WHERE tenant_id = $1`, [tenant.tenantId]);

      expect(refused.status).toBe(422);
      expect(refused.body.code).toBe('stripe_keys_invalid');
      expect((await getInvoice(t, tenant, draft.id)).number).toBeNull();
      expect(sequences).toEqual([]);
    });

    it('gives 99999 and then 100000', async () => {
      const tenant = await connectedB2bTenant(t);
      const year = yearIn('America/Chicago');
      await setNextNumber(tenant.tenantId, Number(year), 99_999);
      const first = await draftFor(t, tenant);
      const second = await draftFor(t, tenant);

      const a = await finalize(t, tenant, first.id);
      const b = await finalize(t, tenant, second.id);
      const issued = await invoiceWhen(t, tenant, second.id, (invoice) => invoice.status === 'open');

      expect(a.body.number).toBe(`INV-${year}-99999`);
      expect(b.body.number).toBe(`INV-${year}-100000`);
      expect((await tenant.stripe.invoices.retrieve(issued.stripeInvoiceId ?? '')).number).toBe(`INV-${year}-100000`);
    });

    it('leaves a duplicate number to the database to reject', async () => {
      const tenant = await connectedB2bTenant(t);
      const first = await draftFor(t, tenant);
      const second = await draftFor(t, tenant);
      const numbered = await finalize(t, tenant, first.id);
      await finalize(t, tenant, second.id).expect(200);

      const duplicate = dataSource(t).query(`UPDATE invoices SET number = $1 WHERE id = $2`, [numbered.body.number, second.id]);

      await expect(duplicate).rejects.toThrow(/invoices_tenant_mode_number_key/);
    });

    it('answers 404 for another tenant\'s invoice exactly as for a missing one', async () => {
      const owner = await connectedB2bTenant(t);
      const rival = await connectedB2bTenant(t);
      const draft = await draftFor(t, owner);

      const foreign = await finalize(t, rival, draft.id);
      const missing = await finalize(t, rival, MISSING_ID);

      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual(missing.body);
      expect((await getInvoice(t, owner, draft.id)).status).toBe('draft');
    });

    it('forbids staff', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      const staff = await createToken(t, tenant.tenantId, 'staff');

      const response = await t.http().post(`${INVOICES}/${draft.id}/finalize`).set(staff).send();

      expect(response.status).toBe(403);
    });

    it('records the finalize in the audit log', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      const finalized = await finalize(t, tenant, draft.id);

      const audit = await t.http().get('/api/v1/audit-log').set(tenant.auth);

      const entry = audit.body.data.find((candidate: { action: string }) => candidate.action === 'invoice.finalized');
      expect(entry.details).toEqual({ invoiceId: draft.id, number: finalized.body.number });
    });

    it('records the number in the issued event', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      const finalized = await finalize(t, tenant, draft.id);

      const rows: { payload: { invoiceId: string; number: string } }[] = await dataSource(t).query(
        `SELECT payload FROM outbox_events WHERE tenant_id = $1 AND aggregate_id = $2 AND event_name = $3`,
        [tenant.tenantId, draft.id, InvoiceIssuedEvent.eventName],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].payload.number).toBe(finalized.body.number);
    });

    it('numbers past 99999 with six digits', async () => {
      const tenant = await connectedB2bTenant(t);
      const year = yearIn('America/Chicago');
      await dataSource(t).query(`INSERT INTO invoice_number_sequences (tenant_id, mode, year, last_value) VALUES ($1, 'test', $2, 99999)`, [
        tenant.tenantId,
        Number(year),
      ]);
      const draft = await draftFor(t, tenant);

      const finalized = await finalize(t, tenant, draft.id);

      expect(finalized.status).toBe(200);
      expect(finalized.body.number).toBe(`INV-${year}-100000`);
    });

    /** Runs `between` once, after the next finalize has read the draft and before it writes. */
    function betweenReadAndWrite(between: (draftId: string) => Promise<void>): void {
      const invoices = t.app.get(InvoicesRepository);
      const read = invoices.findToFinalize.bind(invoices);
      jest.spyOn(invoices, 'findToFinalize').mockImplementationOnce(async (tenantId, id, connectionSql) => {
        const found = await read(tenantId, id, connectionSql);
        await between(id);

        return found;
      });
    }

    it('locks a draft changed after its read', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      betweenReadAndWrite(async (id) => {
        await dataSource(t).query(`UPDATE invoices SET memo = 'changed meanwhile' WHERE id = $1`, [id]);
      });
      const locked = jest.spyOn(t.app.get(InvoiceNumberingService), 'finalizeDraft');

      const finalized = await finalize(t, tenant, draft.id);

      expect(locked).toHaveBeenCalledTimes(1);
      expect(finalized.status).toBe(200);
      expect(finalized.body.number).toBe(`INV-${yearIn('America/Chicago')}-00001`);
      expect(finalized.body.memo).toBe('changed meanwhile');
      const events: { payload: { number: string } }[] = await dataSource(t).query(
        `SELECT payload FROM outbox_events WHERE tenant_id = $1 AND aggregate_id = $2 AND event_name = $3`,
        [tenant.tenantId, draft.id, InvoiceIssuedEvent.eventName],
      );
      expect(events.map((event) => event.payload.number)).toEqual([finalized.body.number]);
      const audit: { details: { number: string } }[] = await dataSource(t).query(
        `SELECT details FROM audit_log WHERE tenant_id = $1 AND action = 'invoice.finalized'`,
        [tenant.tenantId],
      );
      expect(audit.map((entry) => entry.details.number)).toEqual([finalized.body.number]);
    });

    it('takes no number after a concurrent finalize', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      let winner: { status: number; body: { number: string } } | undefined;
      betweenReadAndWrite(async (id) => {
        winner = await finalize(t, tenant, id);
      });

      const loser = await finalize(t, tenant, draft.id);

      expect(winner?.status).toBe(200);
      expect(loser.status).toBe(409);
      expect(loser.body.code).toBe('invalid_state');
      const [sequence]: { last_value: string }[] = await dataSource(t).query(
        `SELECT last_value FROM invoice_number_sequences WHERE tenant_id = $1`,
        [tenant.tenantId],
      );
      expect(Number(sequence.last_value)).toBe(1);
      expect(winner?.body.number).toBe(`INV-${yearIn('America/Chicago')}-00001`);
    });
  });

  describe('Idempotency-Key on finalize', () => {
    it('returns the first response again for the same key', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);

      const first = await finalize(t, tenant, draft.id, { 'Idempotency-Key': 'finalize-1' });
      await invoiceWhen(t, tenant, draft.id, (invoice) => invoice.status === 'open');
      const again = await finalize(t, tenant, draft.id, { 'Idempotency-Key': 'finalize-1' });

      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
    });

    it('stores a refusal: the same key answers 409 invalid_state again', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await finalize(t, tenant, draft.id).expect(200);

      const first = await finalize(t, tenant, draft.id, { 'Idempotency-Key': 'finalize-again' });
      const again = await finalize(t, tenant, draft.id, { 'Idempotency-Key': 'finalize-again' });

      expect(first.status).toBe(409);
      expect(again.status).toBe(409);
      expect(again.headers['idempotent-replayed']).toBe('true');
    });

    it('does not store stripe_not_connected, so a retry after reconnecting finalizes', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);

      const refused = await finalize(t, tenant, draft.id, { 'Idempotency-Key': 'finalize-reconnect' });
      await t
        .http()
        .post('/api/v1/settings/billing/stripe')
        .set(tenant.auth)
        .send({ publishableKey: tenant.account.test.publishableKey, secretKey: tenant.account.test.secretKey })
        .expect(201);
      const retried = await finalize(t, tenant, draft.id, { 'Idempotency-Key': 'finalize-reconnect' });

      expect(refused.status).toBe(409);
      expect(retried.status).toBe(200);
      expect(retried.body.status).toBe('issuing');
    });

    it('answers 409 idempotency_key_reused for another body', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await finalize(t, tenant, draft.id, { 'Idempotency-Key': 'finalize-body' }).expect(200);

      const other = await t.http().post(`${INVOICES}/${draft.id}/finalize`).set(tenant.auth).set('Idempotency-Key', 'finalize-body').send({ note: 'x' });

      expect(other.status).toBe(409);
      expect(other.body.code).toBe('idempotency_key_reused');
    });
  });

  describe('invoice year at midnight in the tenant\'s time zone', () => {
    it('switches years at Chicago midnight', async () => {
      const tenant = await connectedB2bTenant(t, 'America/Chicago');
      const calendar = t.app.get(InvoiceCalendarService);
      const lastSecond = await draftFor(t, tenant);
      const midnight = await draftFor(t, tenant);

      // 2026-12-31 23:59:59 in Chicago (UTC-6) is 2027-01-01 05:59:59 UTC.
      jest.spyOn(calendar, 'now').mockReturnValue(new Date('2027-01-01T05:59:59.000Z'));
      const before = await finalize(t, tenant, lastSecond.id);
      jest.spyOn(calendar, 'now').mockReturnValue(new Date('2027-01-01T06:00:00.000Z'));
      const after = await finalize(t, tenant, midnight.id);

      expect(before.body.number).toBe('INV-2026-00001');
      expect(after.body.number).toBe('INV-2027-00001');
      expect(before.body.dueDate).toBe('2027-01-30');
      expect(after.body.dueDate).toBe('2027-01-31');
    });

    it('starts the year earlier in Tokyo', async () => {
      const tokyo = await connectedB2bTenant(t, 'Asia/Tokyo');
      const chicago = await connectedB2bTenant(t, 'America/Chicago');
      const calendar = t.app.get(InvoiceCalendarService);
      const tokyoDraft = await draftFor(t, tokyo);
      const chicagoDraft = await draftFor(t, chicago);

      // 2027-01-01 00:00 in Tokyo (UTC+9), 2026-12-31 09:00 in Chicago.
      jest.spyOn(calendar, 'now').mockReturnValue(new Date('2026-12-31T15:00:00.000Z'));
      const inTokyo = await finalize(t, tokyo, tokyoDraft.id);
      const inChicago = await finalize(t, chicago, chicagoDraft.id);

      expect(inTokyo.body.number).toBe('INV-2027-00001');
      expect(inChicago.body.number).toBe('INV-2026-00001');
    });

    it('follows a time zone an operator sets', async () => {
      const tenant = await connectedB2bTenant(t, 'America/Chicago');
      const calendar = t.app.get(InvoiceCalendarService);
      const draft = await draftFor(t, tenant);
      await t.http().patch(`/api/v1/ops/tenants/${tenant.tenantId}`).set(operator).send({ timeZone: 'Asia/Tokyo' }).expect(200);

      jest.spyOn(calendar, 'now').mockReturnValue(new Date('2026-12-31T15:00:00.000Z'));
      const response = await finalize(t, tenant, draft.id);

      expect(response.body.number).toBe('INV-2027-00001');
    });
  });

  describe('a Stripe failure after the finalize committed', () => {
    it('keeps its number through the retry', async () => {
      const tenant = await connectedB2bTenant(t);
      const year = yearIn('America/Chicago');
      const draft = await draftFor(t, tenant);
      // The job's create call and stripe-node's own retry of it both get Stripe's 500.
      await injectFaults(t, tenant, 2, '500');

      const finalized = await finalize(t, tenant, draft.id);
      const failing = await getInvoice(t, tenant, draft.id);
      const issued = await invoiceWhen(t, tenant, draft.id, (invoice) => invoice.status === 'open', 30_000);
      const next = await finalize(t, tenant, (await draftFor(t, tenant)).id);
      const job = await t.app.get<Queue>(getQueueToken(QUEUE_INVOICES)).getJob(jobIdFor('issue-invoice', draft.id));

      expect(finalized.body.number).toBe(numberOf(year, 1));
      expect(job?.attemptsStarted).toBeGreaterThanOrEqual(2);
      expect(failing.status).toBe('issuing');
      expect(failing.number).toBe(numberOf(year, 1));
      expect(issued.number).toBe(numberOf(year, 1));
      expect(await stripeInvoicesOf(tenant, draft.id)).toHaveLength(1);
      expect(next.body.number).toBe(numberOf(year, 2));
    });

    it('fails issuing for good when the customer is of another account', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      // The create call and stripe-node's retry of it fail, so an attempt that started before the update issues nothing.
      await injectFaults(t, tenant, 2, '500');
      await finalize(t, tenant, draft.id).expect(200);
      await dataSource(t).query(`UPDATE customers SET stripe_account_id = 'acct_elsewhere' WHERE id = $1`, [draft.customerId]);

      const failed = await invoiceWhen(t, tenant, draft.id, (invoice) => invoice.stripeError?.code === 'account_mismatch', 30_000);

      expect(failed.status).toBe('issuing');
      expect(failed.stripeError?.message).toContain(`lives in Stripe account acct_elsewhere, but the tenant is connected to ${tenant.account.id}`);
      expect(failed.stripeInvoiceId).toBeNull();
    });
  });

  describe('customer of a disconnected account', () => {
    it('can still be named by a card payment', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant);
      await reconnectToNewAccount(tenant);

      const payment = await t.http().post(PAYMENTS).set(tenant.auth).send({ amount: 8900, currency: 'usd', paymentMethod: 'pm_card_visa', customerId: customer.id });
      const invoiceId = await eventually(async () => ((await t.http().get(`${PAYMENTS}/${payment.body.id}`).set(tenant.auth)).body.invoiceId as string | null) ?? undefined);
      const invoice = await getInvoice(t, tenant, invoiceId);

      expect(payment.status).toBe(201);
      expect(payment.body.status).toBe('succeeded');
      expect(invoice.status).toBe('paid');
      expect(invoice.customerId).toBe(customer.id);
    });
  });

  describe('POST /api/v1/invoices/:id/void', () => {
    it('voids an open invoice here and in Stripe, keeping its number', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);

      const response = await t.http().post(`${INVOICES}/${open.id}/void`).set(tenant.auth).send();
      const inStripe = await eventually(async () => {
        const stripeInvoice = await tenant.stripe.invoices.retrieve(open.stripeInvoiceId ?? '');

        return stripeInvoice.status === 'void' ? stripeInvoice : undefined;
      });

      expect(response.status).toBe(200);
      expect(response.body.status).toBe('void');
      expect(response.body.number).toBe(open.number);
      expect(response.body.voidedAt).toEqual(expect.any(String));
      expect(inStripe.number).toBe(open.number);
    });

    it('voids an issuing invoice that Stripe never saw', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await keyChangesApplied(t, tenant);
      jest.spyOn(t.app.get(InvoiceJobQueue), 'enqueueAfterCommit').mockResolvedValueOnce();
      const finalized = await finalize(t, tenant, draft.id);

      const response = await t.http().post(`${INVOICES}/${draft.id}/void`).set(tenant.auth).send();
      await eventually(async () => {
        const rows: { stripe_void_confirmed_at: Date | null }[] = await dataSource(t).query(
          `SELECT stripe_void_confirmed_at FROM invoices WHERE id = $1`,
          [draft.id],
        );

        return rows[0].stripe_void_confirmed_at ? true : undefined;
      });

      expect(response.body.status).toBe('void');
      expect(response.body.number).toBe(finalized.body.number);
      expect(await stripeInvoicesOf(tenant, draft.id)).toEqual([]);
    });

    it('voids an uncollectible invoice', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);
      await tenant.stripe.invoices.markUncollectible(open.stripeInvoiceId ?? '');
      await invoiceWhen(t, tenant, open.id, (invoice) => invoice.status === 'uncollectible');

      const response = await t.http().post(`${INVOICES}/${open.id}/void`).set(tenant.auth).send();
      const inStripe = await eventually(async () => {
        const stripeInvoice = await tenant.stripe.invoices.retrieve(open.stripeInvoiceId ?? '');

        return stripeInvoice.status === 'void' ? stripeInvoice : undefined;
      });

      expect(response.status).toBe(200);
      expect(response.body.status).toBe('void');
      expect(inStripe.status).toBe('void');
    });

    it('refuses a draft', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);

      const response = await t.http().post(`${INVOICES}/${draft.id}/void`).set(tenant.auth).send();

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('invalid_state');
    });

    it('refuses a paid invoice', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);
      await tenant.stripe.invoices.pay(open.stripeInvoiceId ?? '', { paid_out_of_band: true });
      await invoiceWhen(t, tenant, open.id, (invoice) => invoice.status === 'paid');

      const response = await t.http().post(`${INVOICES}/${open.id}/void`).set(tenant.auth).send();

      expect(response.status).toBe(409);
    });

    it('refuses a void invoice', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);
      await t.http().post(`${INVOICES}/${open.id}/void`).set(tenant.auth).send().expect(200);

      const again = await t.http().post(`${INVOICES}/${open.id}/void`).set(tenant.auth).send();

      expect(again.status).toBe(409);
    });

    it('answers 409 stripe_not_connected after a disconnect', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);

      const response = await t.http().post(`${INVOICES}/${open.id}/void`).set(tenant.auth).send();

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('stripe_not_connected');
    });

    it('answers 404 for another tenant\'s invoice', async () => {
      const owner = await connectedB2bTenant(t);
      const rival = await connectedB2bTenant(t);
      const open = await openInvoice(t, owner);

      const response = await t.http().post(`${INVOICES}/${open.id}/void`).set(rival.auth).send();

      expect(response.status).toBe(404);
      expect((await getInvoice(t, owner, open.id)).status).toBe('open');
    });
  });

  describe('Stripe invoice events', () => {
    it('marks the invoice paid when Stripe reports it paid', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);

      await tenant.stripe.invoices.pay(open.stripeInvoiceId ?? '', { paid_out_of_band: true });
      const paid = await invoiceWhen(t, tenant, open.id, (invoice) => invoice.status === 'paid');

      expect(paid.amountPaid).toBe(open.total);
      expect(paid.paidAt).toEqual(expect.any(String));
      expect(paid.number).toBe(open.number);
    });

    it('keeps a paid invoice paid when an older finalized event arrives afterwards', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);
      const staleOpen = await tenant.stripe.invoices.retrieve(open.stripeInvoiceId ?? '');
      await tenant.stripe.invoices.pay(open.stripeInvoiceId ?? '', { paid_out_of_band: true });
      await invoiceWhen(t, tenant, open.id, (invoice) => invoice.status === 'paid');

      const late = await emitStripeEvent(t, tenant, 'invoice.finalized', staleOpen);
      const stored = await eventually(async () => {
        const events = await webhookEventsOf(t, operator, tenant.tenantId, 'invoice.finalized');
        const event = events.find((candidate) => candidate.stripeEventId === late.id);

        return event && event.status !== 'received' && event.status !== 'processing' ? event : undefined;
      });

      expect(stored.status).toBe('processed');
      expect((await getInvoice(t, tenant, open.id)).status).toBe('paid');
    });

    it('applies paid before finalized, delivered in that order, for an invoice still issuing', async () => {
      const tenant = await connectedB2bTenant(t);
      const draft = await draftFor(t, tenant);
      await keyChangesApplied(t, tenant);
      jest.spyOn(t.app.get(InvoiceJobQueue), 'enqueueAfterCommit').mockResolvedValueOnce();
      const finalized = await finalize(t, tenant, draft.id);
      const base = {
        id: 'in_outoforder0000000000001',
        object: 'invoice',
        number: finalized.body.number,
        metadata: { billingInvoiceId: draft.id, billingTenantId: tenant.tenantId },
        livemode: false,
        amount_paid: 0,
        status_transitions: { finalized_at: 1_800_000_000, paid_at: null, voided_at: null, marked_uncollectible_at: null },
      };

      await emitStripeEvent(t, tenant, 'invoice.paid', {
        ...base,
        status: 'paid',
        amount_paid: finalized.body.total,
        status_transitions: { ...base.status_transitions, paid_at: 1_800_000_100 },
      });
      const paid = await invoiceWhen(t, tenant, draft.id, (invoice) => invoice.status === 'paid');
      await emitStripeEvent(t, tenant, 'invoice.finalized', { ...base, status: 'open' });
      await eventually(async () => {
        const events = await webhookEventsOf(t, operator, tenant.tenantId, 'invoice.finalized');

        return events.some((event) => event.status === 'processed') ? true : undefined;
      });

      expect(paid.stripeInvoiceId).toBe('in_outoforder0000000000001');
      expect(paid.paidAt).toBe(new Date(1_800_000_100_000).toISOString());
      expect((await getInvoice(t, tenant, draft.id)).status).toBe('paid');
    });

    it('keeps the invoice open after a failed payment attempt', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);

      await expect(tenant.stripe.invoices.pay(open.stripeInvoiceId ?? '', { payment_method: 'pm_card_chargeDeclined' })).rejects.toThrow();
      const stored = await eventually(async () => {
        const events = await webhookEventsOf(t, operator, tenant.tenantId, 'invoice.payment_failed');

        return events.find((event) => event.status === 'processed');
      });

      expect(stored.status).toBe('processed');
      expect((await getInvoice(t, tenant, open.id)).status).toBe('open');
    });

    it('follows uncollectible, then paid', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);

      await tenant.stripe.invoices.markUncollectible(open.stripeInvoiceId ?? '');
      const uncollectible = await invoiceWhen(t, tenant, open.id, (invoice) => invoice.status === 'uncollectible');
      await tenant.stripe.invoices.pay(open.stripeInvoiceId ?? '', { paid_out_of_band: true });
      const paid = await invoiceWhen(t, tenant, open.id, (invoice) => invoice.status === 'paid');

      expect(uncollectible.number).toBe(open.number);
      expect(paid.number).toBe(open.number);
    });

    it('voids the invoice when it is voided in the Stripe Dashboard', async () => {
      const tenant = await connectedB2bTenant(t);
      const open = await openInvoice(t, tenant);

      await tenant.stripe.invoices.voidInvoice(open.stripeInvoiceId ?? '');
      const voided = await invoiceWhen(t, tenant, open.id, (invoice) => invoice.status === 'void');

      expect(voided.number).toBe(open.number);
      expect(voided.voidedAt).toEqual(expect.any(String));
    });

    it('ignores invoices created directly in Stripe, which take no number', async () => {
      const tenant = await connectedB2bTenant(t);
      const year = yearIn('America/Chicago');
      const customer = await tenant.stripe.customers.create({ name: 'Direct', email: 'direct@example.com' });
      const direct = await tenant.stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 5 });
      await tenant.stripe.invoiceItems.create({ customer: customer.id, invoice: direct.id, amount: 4200 });
      await tenant.stripe.invoices.finalizeInvoice(direct.id);
      await tenant.stripe.invoices.pay(direct.id, { paid_out_of_band: true });

      const stored = await eventually(async () => {
        const finalizedEvents = await webhookEventsOf(t, operator, tenant.tenantId, 'invoice.finalized');
        const paidEvents = await webhookEventsOf(t, operator, tenant.tenantId, 'invoice.paid');
        const all = [...finalizedEvents, ...paidEvents];

        return all.length === 2 && all.every((event) => event.status === 'ignored') ? all : undefined;
      });
      const list = await t.http().get(INVOICES).set(tenant.auth);
      const next = await finalize(t, tenant, (await draftFor(t, tenant)).id);

      expect(stored.map((event) => event.reason)).toEqual(['unknown_object', 'unknown_object']);
      expect(list.body.data).toEqual([]);
      expect(next.body.number).toBe(numberOf(year, 1));
    });
  });

  describe('OpenAPI document', () => {
    it('describes the customer and invoice routes', async () => {
      const response = await t.http().get('/api/docs-json').expect(200);
      const paths = response.body.paths as Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;

      expect(Object.keys(paths['/api/v1/customers']).sort()).toEqual(['get', 'post']);
      expect(Object.keys(paths['/api/v1/customers/{id}'])).toEqual(['get']);
      expect(Object.keys(paths['/api/v1/invoices']).sort()).toEqual(['get', 'post']);
      expect(Object.keys(paths['/api/v1/invoices/{id}']).sort()).toEqual(['delete', 'get']);
      expect(Object.keys(paths['/api/v1/invoices/{id}/void'])).toEqual(['post']);
      expect(paths['/api/v1/invoices/{id}/finalize'].post.parameters).toContainEqual(
        expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }),
      );
    });
  });

  describe('tenant isolation', () => {
    it('shows a B2B invoice to its tenant only', async () => {
      const owner = await connectedB2bTenant(t);
      const rival: B2bTenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, owner);
      const draft = await createDraft(t, owner, customer.id);

      const foreign = await t.http().get(`${INVOICES}/${draft.id}`).set(rival.auth);
      const list = await t.http().get(INVOICES).set(rival.auth);

      expect(foreign.status).toBe(404);
      expect(list.body.data).toEqual([]);
    });
  });
});
