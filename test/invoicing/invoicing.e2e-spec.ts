import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { InvoiceCalendarService } from '../../src/modules/invoicing/invoice-calendar.service';
import { createTenant, TenantFixture, uniqueSlug } from '../support/factories';
import { connectStripe } from '../support/stripe-account';
import { TestApp, eventually, startTestApp } from '../support/test-app';

const PAYMENTS = '/api/v1/payments';
const INVOICES = '/api/v1/invoices';
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

const INVOICE_FIELDS = [
  'amountPaid',
  'amountRefunded',
  'createdAt',
  'currency',
  'customerId',
  'daysUntilDue',
  'dueDate',
  'hostedInvoiceUrl',
  'id',
  'issuedAt',
  'lines',
  'livemode',
  'memo',
  'number',
  'overdue',
  'paidAt',
  'paymentId',
  'pdfUrl',
  'sentAt',
  'status',
  'stripeError',
  'stripeInvoiceId',
  'total',
  'voidedAt',
];

function yearIn(timeZone: string, date = new Date()): string {
  return new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric' }).format(date);
}

describe('invoicing', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  async function connectedTenant(): Promise<TenantFixture> {
    const tenant = await createTenant(t);
    await connectStripe(t, tenant.auth);

    return tenant;
  }

  /** Creates a connected tenant in the given time zone through the operator facade. */
  async function connectedTenantIn(timeZone: string): Promise<TenantFixture> {
    const admin = t.app.get<TenancyAdmin>(TENANCY_ADMIN);
    const slug = uniqueSlug('zone');
    const tenant = await admin.createTenant({ slug, name: `Tenant ${slug}`, timeZone });
    const token = await admin.createToken({ tenantId: tenant.id, role: 'owner', label: 'owner token' });
    const auth = { Authorization: `Bearer ${token.token}` };
    await connectStripe(t, auth);

    return { tenantId: tenant.id, slug, token: token.token, auth };
  }

  async function paidPayment(tenant: TenantFixture, body: Record<string, unknown> = {}): Promise<string> {
    const response = await t
      .http()
      .post(PAYMENTS)
      .set(tenant.auth)
      .send({ amount: 8900, currency: 'usd', paymentMethod: 'pm_card_visa', ...body });
    expect(response.status).toBe(201);

    return response.body.id;
  }

  /** Waits for the invoice of a payment (issued by Invoicing, linked by Payments) and reads it. */
  async function invoiceOf(tenant: TenantFixture, paymentId: string): Promise<Record<string, unknown> & { id: string; number: string }> {
    const payment = await eventually(async () => {
      const response = await t.http().get(`${PAYMENTS}/${paymentId}`).set(tenant.auth);

      return response.body.invoiceId ? response : undefined;
    });
    const invoice = await t.http().get(`${INVOICES}/${payment.body.invoiceId}`).set(tenant.auth);
    expect(invoice.status).toBe(200);

    return invoice.body;
  }

  describe('paid invoice for a card payment', () => {
    it('numbers the first invoice of the year 00001', async () => {
      const tenant = await connectedTenant();

      const invoice = await invoiceOf(tenant, await paidPayment(tenant));

      expect(invoice.number).toBe(`INV-${yearIn('America/Chicago')}-00001`);
    });

    it('numbers the second invoice 00002', async () => {
      const tenant = await connectedTenant();
      await invoiceOf(tenant, await paidPayment(tenant));

      const second = await invoiceOf(tenant, await paidPayment(tenant, { amount: 1500 }));

      expect(second.number).toBe(`INV-${yearIn('America/Chicago')}-00002`);
    });

    it('shows the invoice with every contract field', async () => {
      const tenant = await connectedTenant();
      const paymentId = await paidPayment(tenant, { description: 'First aid course' });

      const invoice = await invoiceOf(tenant, paymentId);

      expect(Object.keys(invoice).sort()).toEqual(INVOICE_FIELDS);
      expect(invoice.status).toBe('paid');
      expect(invoice.overdue).toBe(false);
      expect(invoice.paymentId).toBe(paymentId);
      expect(invoice.customerId).toBeNull();
      expect(invoice.currency).toBe('usd');
      expect(invoice.total).toBe(8900);
      expect(invoice.amountPaid).toBe(8900);
      expect(invoice.amountRefunded).toBe(0);
      expect(invoice.livemode).toBe(false);
      expect(invoice.lines).toEqual([{ description: 'First aid course', quantity: 1, unitAmount: 8900, amount: 8900 }]);
      expect(invoice.issuedAt).toEqual(expect.any(String));
      expect(invoice.paidAt).toEqual(expect.any(String));
      expect(invoice.voidedAt).toBeNull();
      expect(invoice.stripeInvoiceId).toBeNull();
    });

    it('describes a payment without description as a card payment', async () => {
      const tenant = await connectedTenant();

      const invoice = await invoiceOf(tenant, await paidPayment(tenant));

      expect(invoice.lines).toEqual([{ description: 'Card payment', quantity: 1, unitAmount: 8900, amount: 8900 }]);
    });

    it('describes a payment with an empty description as a card payment', async () => {
      const tenant = await connectedTenant();

      const invoice = await invoiceOf(tenant, await paidPayment(tenant, { description: '' }));

      expect(invoice.lines).toEqual([{ description: 'Card payment', quantity: 1, unitAmount: 8900, amount: 8900 }]);
    });

    it('issues no invoice for a declined payment', async () => {
      const tenant = await connectedTenant();
      await t.http().post(PAYMENTS).set(tenant.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_chargeDeclined' });
      // A paid payment after the decline proves the worker got past the declined one.
      await invoiceOf(tenant, await paidPayment(tenant));

      const list = await t.http().get(INVOICES).set(tenant.auth);

      expect(list.body.data).toHaveLength(1);
    });

    it('gives 20 parallel payments 20 consecutive numbers', async () => {
      const tenant = await connectedTenant();
      const year = yearIn('America/Chicago');

      const paymentIds = await Promise.all(Array.from({ length: 20 }, () => paidPayment(tenant, { amount: 1000 })));
      const invoices = await Promise.all(paymentIds.map((paymentId) => invoiceOf(tenant, paymentId)));
      const numbers = invoices.map((invoice) => invoice.number).sort();

      expect(numbers).toEqual(Array.from({ length: 20 }, (_, index) => `INV-${year}-${String(index + 1).padStart(5, '0')}`));
    });
  });

  describe('invoice year in the tenant\'s time zone', () => {
    it('keeps New Year\'s Eve 23:30 in Chicago in the old year', async () => {
      const tenant = await connectedTenantIn('America/Chicago');
      // 2026-12-31 23:30 in Chicago, already 2027 in UTC.
      jest.spyOn(t.app.get(InvoiceCalendarService), 'now').mockReturnValue(new Date('2027-01-01T05:30:00.000Z'));

      const invoice = await invoiceOf(tenant, await paidPayment(tenant));

      expect(invoice.number).toBe('INV-2026-00001');
    });

    it('uses the new year where the tenant already has it', async () => {
      const tenant = await connectedTenantIn('Asia/Tokyo');
      // 2027-01-01 01:00 in Tokyo, still 2026 in UTC and in Chicago.
      jest.spyOn(t.app.get(InvoiceCalendarService), 'now').mockReturnValue(new Date('2026-12-31T16:00:00.000Z'));

      const invoice = await invoiceOf(tenant, await paidPayment(tenant));

      expect(invoice.number).toBe('INV-2027-00001');
    });
  });

  describe('GET /api/v1/invoices', () => {
    it('pages newest first with a cursor', async () => {
      const tenant = await connectedTenant();
      const first = await invoiceOf(tenant, await paidPayment(tenant));
      const second = await invoiceOf(tenant, await paidPayment(tenant));

      const page = await t.http().get(INVOICES).query({ limit: 1 }).set(tenant.auth);
      const next = await t.http().get(INVOICES).query({ limit: 1, cursor: page.body.nextCursor }).set(tenant.auth);

      expect(page.body.data.map((invoice: { id: string }) => invoice.id)).toEqual([second.id]);
      expect(next.body.data.map((invoice: { id: string }) => invoice.id)).toEqual([first.id]);
      expect(next.body.nextCursor).toBeNull();
    });

    it('filters by status', async () => {
      const tenant = await connectedTenant();
      await invoiceOf(tenant, await paidPayment(tenant));

      const paid = await t.http().get(INVOICES).query({ status: 'paid' }).set(tenant.auth);
      const open = await t.http().get(INVOICES).query({ status: 'open' }).set(tenant.auth);

      expect(paid.body.data).toHaveLength(1);
      expect(open.body.data).toEqual([]);
    });

    it('finds no overdue paid invoice', async () => {
      const tenant = await connectedTenant();
      await invoiceOf(tenant, await paidPayment(tenant));

      const overdue = await t.http().get(INVOICES).query({ overdue: 'true' }).set(tenant.auth);
      const notOverdue = await t.http().get(INVOICES).query({ overdue: 'false' }).set(tenant.auth);

      expect(overdue.body.data).toEqual([]);
      expect(notOverdue.body.data).toHaveLength(1);
    });

    it('rejects an unknown status', async () => {
      const tenant = await createTenant(t);

      const response = await t.http().get(INVOICES).query({ status: 'succeeded' }).set(tenant.auth);

      expect(response.status).toBe(400);
    });

    it('rejects an overdue flag that is not true or false', async () => {
      const tenant = await createTenant(t);

      const response = await t.http().get(INVOICES).query({ overdue: 'yes' }).set(tenant.auth);

      expect(response.status).toBe(400);
    });

    it.each(['abc', '0', '-1'])('names the allowed range for limit=%s', async (limit) => {
      const tenant = await createTenant(t);

      const response = await t.http().get(INVOICES).query({ limit }).set(tenant.auth);

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'limit', message: 'must be an integer from 1 to 100' }]);
    });
  });

  describe('tenant isolation', () => {
    it('answers 404 for another tenant\'s invoice exactly as for a missing one', async () => {
      const owner = await connectedTenant();
      const rival = await createTenant(t);
      const invoice = await invoiceOf(owner, await paidPayment(owner));

      const foreign = await t.http().get(`${INVOICES}/${invoice.id}`).set(rival.auth);
      const missing = await t.http().get(`${INVOICES}/${MISSING_ID}`).set(rival.auth);

      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual(missing.body);
    });

    it('shows another tenant an empty list', async () => {
      const owner = await connectedTenant();
      const rival = await createTenant(t);
      await invoiceOf(owner, await paidPayment(owner));

      const response = await t.http().get(INVOICES).set(rival.auth);

      expect(response.body).toEqual({ data: [], nextCursor: null });
    });

    it('answers 404 for a malformed id', async () => {
      const tenant = await createTenant(t);

      const response = await t.http().get(`${INVOICES}/INV-2026-00001`).set(tenant.auth);

      expect(response.status).toBe(404);
    });

    it('lets staff read invoices', async () => {
      const tenant = await createTenant(t, 'staff');

      const response = await t.http().get(INVOICES).set(tenant.auth);

      expect(response.status).toBe(200);
    });
  });
});
