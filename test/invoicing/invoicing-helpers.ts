import { QUEUE_INVOICES } from '@app/common/queues/queue-names';
import { PaymentSucceededEvent } from '@app/contracts/payments.contracts';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { InvoiceJobSettings } from '../../src/modules/invoicing/invoice-job-settings';
import { TenantFixture, createTenant, uniqueSlug } from '../support/factories';
import { EmulatorAccount, connectStripe } from '../support/stripe-account';
import { TestApp, eventually } from '../support/test-app';

export const CUSTOMERS = '/api/v1/customers';
export const INVOICES = '/api/v1/invoices';
export const PAYMENTS = '/api/v1/payments';
export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

/** A tenant connected to its own emulator account, with a stripe-node client for that account. */
export interface B2bTenant extends TenantFixture {
  account: EmulatorAccount;
  stripe: Stripe;
}

export interface InvoiceBody {
  id: string;
  number: string | null;
  status: string;
  overdue: boolean;
  customerId: string | null;
  paymentId: string | null;
  currency: string;
  lines: { description: string; quantity: number; unitAmount: number; amount: number }[];
  total: number;
  amountPaid: number;
  amountRefunded: number;
  dueDate: string | null;
  livemode: boolean;
  hostedInvoiceUrl: string | null;
  pdfUrl: string | null;
  stripeInvoiceId: string | null;
  stripeError: { job: string; code: string; message: string; failedAt: string } | null;
  memo: string | null;
  issuedAt: string | null;
  paidAt: string | null;
  voidedAt: string | null;
  createdAt: string;
  daysUntilDue: number | null;
  sentAt: string | null;
}

export const TWO_LINES = [
  { description: 'CPR/AED class, 12 seats', quantity: 12, unitAmount: 8900 },
  { description: 'Course materials', quantity: 1, unitAmount: 2500 },
];

/** Builds a stripe-node client for an emulator account's key, as the tenant would in its own code. */
export function stripeFor(t: TestApp, secretKey: string): Stripe {
  const url = new URL(t.emulator.url);

  return new Stripe(secretKey, { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0 });
}

/** Creates a tenant (in `timeZone` when given) whose owner connected a new emulator account's test keys. */
export async function connectedB2bTenant(t: TestApp, timeZone?: string): Promise<B2bTenant> {
  let tenant: TenantFixture;
  if (timeZone === undefined) {
    tenant = await createTenant(t);
  } else {
    const admin = t.app.get<TenancyAdmin>(TENANCY_ADMIN);
    const slug = uniqueSlug('zone');
    const created = await admin.createTenant({ slug, name: `Tenant ${slug}`, timeZone });
    const token = await admin.createToken({ tenantId: created.id, role: 'owner', label: 'owner token' });
    tenant = { tenantId: created.id, slug, token: token.token, auth: { Authorization: `Bearer ${token.token}` } };
  }
  const account = await connectStripe(t, tenant.auth);

  return { ...tenant, account, stripe: stripeFor(t, account.test.secretKey) };
}

export async function createCustomer(t: TestApp, tenant: TenantFixture, body: Record<string, unknown> = {}): Promise<{ id: string; stripeCustomerId: string }> {
  const response = await t
    .http()
    .post(CUSTOMERS)
    .set(tenant.auth)
    .send({ name: 'Acme Corp', email: 'billing@acme.example', ...body });
  if (response.status !== 201) {
    throw new Error(`Creating a customer failed with ${response.status}: ${response.text}`);
  }

  return response.body;
}

export async function createDraft(t: TestApp, tenant: TenantFixture, customerId: string, body: Record<string, unknown> = {}): Promise<InvoiceBody> {
  const response = await t
    .http()
    .post(INVOICES)
    .set(tenant.auth)
    .send({ customerId, currency: 'usd', lines: TWO_LINES, ...body });
  if (response.status !== 201) {
    throw new Error(`Creating a draft failed with ${response.status}: ${response.text}`);
  }

  return response.body;
}

/** Creates a customer and a draft of two lines for it. */
export async function draftFor(t: TestApp, tenant: TenantFixture, body: Record<string, unknown> = {}): Promise<InvoiceBody> {
  const customer = await createCustomer(t, tenant);

  return createDraft(t, tenant, customer.id, body);
}

export function finalize(t: TestApp, tenant: TenantFixture, invoiceId: string, headers: Record<string, string> = {}): request.Test {
  return t.http().post(`${INVOICES}/${invoiceId}/finalize`).set(tenant.auth).set(headers).send();
}

export async function getInvoice(t: TestApp, tenant: TenantFixture, invoiceId: string): Promise<InvoiceBody> {
  const response = await t.http().get(`${INVOICES}/${invoiceId}`).set(tenant.auth);
  if (response.status !== 200) {
    throw new Error(`Reading invoice ${invoiceId} failed with ${response.status}: ${response.text}`);
  }

  return response.body;
}

/** Waits until the invoice satisfies `check`, and returns it. */
export async function invoiceWhen(
  t: TestApp,
  tenant: TenantFixture,
  invoiceId: string,
  check: (invoice: InvoiceBody) => boolean,
  timeoutMs = 20_000,
): Promise<InvoiceBody> {
  return eventually(async () => {
    const invoice = await getInvoice(t, tenant, invoiceId);

    return check(invoice) ? invoice : undefined;
  }, timeoutMs);
}

/** Finalizes a new draft and waits until the issuing job has opened it and Stripe has sent it. */
export async function openInvoice(t: TestApp, tenant: TenantFixture, body: Record<string, unknown> = {}): Promise<InvoiceBody> {
  const draft = await draftFor(t, tenant, body);
  const response = await finalize(t, tenant, draft.id);
  if (response.status !== 200) {
    throw new Error(`Finalizing failed with ${response.status}: ${response.text}`);
  }

  return invoiceWhen(t, tenant, draft.id, (invoice) => invoice.status === 'open' && invoice.sentAt !== null);
}

export function dataSource(t: TestApp): DataSource {
  return t.app.get(DataSource);
}

export function jobSettings(t: TestApp): InvoiceJobSettings {
  return t.app.get(InvoiceJobSettings);
}

/** Lists the account's Stripe invoices that carry our id in their metadata, by list because search lags. */
export async function stripeInvoicesOf(tenant: B2bTenant, invoiceId: string): Promise<Stripe.Invoice[]> {
  const all = await tenant.stripe.invoices.list({ limit: 100 });

  return all.data.filter((invoice) => invoice.metadata?.billingInvoiceId === invoiceId);
}

/** Makes the tenant's next Stripe calls fail, so no other tenant's background call takes the faults. */
export async function injectFaults(t: TestApp, tenant: B2bTenant, count: number, kind: '500' | '429' | 'timeout' = '500'): Promise<void> {
  await request(t.emulator.url).post('/_emulator/faults').send({ count, kind, account: tenant.account.id }).expect(201);
}

/** Emits an event on the tenant's account through the emulator's control API, delivered like any other. */
export async function emitStripeEvent(t: TestApp, tenant: B2bTenant, type: string, object: object): Promise<{ id: string }> {
  const response = await request(t.emulator.url).post('/_emulator/events').send({ account: tenant.account.id, type, object }).expect(201);

  return response.body;
}

export interface WebhookEventBody {
  id: string;
  stripeEventId: string;
  type: string;
  status: string;
  reason: string | null;
}

/** Lists the tenant's stored webhook events of a type through the operator API. */
export async function webhookEventsOf(
  t: TestApp,
  operatorAuth: { Authorization: string },
  tenantId: string,
  type: string,
): Promise<WebhookEventBody[]> {
  const response = await t.http().get('/api/v1/ops/webhook-events').query({ tenantId, type, limit: 100 }).set(operatorAuth);
  if (response.status !== 200) {
    throw new Error(`Listing webhook events failed with ${response.status}: ${response.text}`);
  }

  return response.body.data;
}

/** Formats the current year in a zone, as the invoice number shows it. */
export function yearIn(timeZone: string, date = new Date()): string {
  return new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric' }).format(date);
}

export function numberOf(year: string, sequence: number): string {
  return `INV-${year}-${String(sequence).padStart(5, '0')}`;
}

/**
 * Leaves no invoice work for the suites that run next against the same database and queue
 * prefix but another emulator: waiting and delayed invoice jobs are dropped, and invoices whose
 * Stripe side is unfinished are marked finished, so no job sweeper enqueues them again.
 */
export async function settleInvoiceWork(t: TestApp): Promise<void> {
  await t.app.get<Queue>(getQueueToken(QUEUE_INVOICES)).drain(true);
  await dataSource(t).query(
    `UPDATE invoices SET status = 'void', voided_at = now(), stripe_void_confirmed_at = now() WHERE status = 'issuing'`,
  );
  await dataSource(t).query(`UPDATE invoices SET stripe_void_confirmed_at = now() WHERE status = 'void' AND stripe_void_confirmed_at IS NULL`);
  await dataSource(t).query(`UPDATE invoices SET sent_at = now() WHERE status = 'open' AND sent_at IS NULL`);
}

const KEY_CHANGE_CONSUMER = 'invoicing.resume-jobs-when-keys-change';
const KEY_CHANGE_EVENTS = ['stripe_connection.connected', 'stripe_connection.keys_rotated', 'stripe_connection.restored'];

/**
 * Waits until invoicing has applied the tenant's Stripe connection events. Their handler runs every
 * unfinished invoice job of the tenant at once, so a test that leaves an invoice without its job
 * on purpose must wait for it first: a connect event relayed after the finalize would start the job.
 */
export async function keyChangesApplied(t: TestApp, tenant: TenantFixture): Promise<void> {
  await eventually(async () => {
    const rows: { pending: string }[] = await dataSource(t).query(
      `SELECT count(*) AS pending
         FROM outbox_events e
        WHERE e.tenant_id = $1 AND e.event_name = ANY($2::text[])
          AND NOT EXISTS (
            SELECT 1 FROM consumer_aggregate_positions p
             WHERE p.consumer = $3 AND p.tenant_id = e.tenant_id AND p.aggregate_id = e.aggregate_id
               AND p.last_sequence >= e.aggregate_sequence)`,
      [tenant.tenantId, KEY_CHANGE_EVENTS, KEY_CHANGE_CONSUMER],
    );

    return rows[0].pending === '0' ? true : undefined;
  });
}

/** Stores a succeeded card payment of 4200 usd for the tenant and returns the event that announces it. */
export async function storeSucceededPayment(t: TestApp, tenantId: string, customerId: string | null = null): Promise<PaymentSucceededEvent> {
  const paymentId = randomUUID();
  const paymentIntentId = `pi_paid_${paymentId.slice(0, 8)}`;
  await t.app
    .get(DataSource)
    .query(
      `INSERT INTO payments (id, tenant_id, status, amount, currency, livemode, stripe_payment_intent_id, metadata) VALUES ($1, $2, 'succeeded', 4200, 'usd', false, $3, '{}')`,
      [paymentId, tenantId, paymentIntentId],
    );

  return new PaymentSucceededEvent(tenantId, paymentId, {
    paymentId,
    amount: 4200,
    currency: 'usd',
    livemode: false,
    description: 'First aid course',
    receiptEmail: null,
    customerId,
    stripePaymentIntentId: paymentIntentId,
    succeededAt: new Date().toISOString(),
  });
}
