import Stripe from 'stripe';
import { StripeEmulator } from './emulator';

// Runs the real stripe-node client against an in-process emulator whose search index lags 200 ms.

const SEARCH_DELAY_MS = 200;

let emulator: StripeEmulator;
let port: number;
let baseUrl: string;

beforeAll(async () => {
  emulator = new StripeEmulator({ port: 0, searchIndexDelayMs: SEARCH_DELAY_MS });
  ({ url: baseUrl, port } = await emulator.start());
});

afterAll(async () => {
  await emulator.stop();
});

let keyCounter = 0;
/** Builds a client for a new account, since a well-formed key the emulator has not seen registers one. */
function freshClient(): Stripe {
  keyCounter += 1;
  const key = `sk_test_${'B'.repeat(20)}${String(keyCounter).padStart(6, '0')}${Date.now()}`;
  return new Stripe(key, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
}

async function rejection(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error('Expected the call to fail');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function eventTypes(stripe: Stripe, pattern: string): Promise<string[]> {
  const events = await stripe.events.list({ type: pattern, limit: 100 });
  return events.data.map((event) => event.type).reverse();
}

async function customerOf(stripe: Stripe, email = 'billing@acme.example'): Promise<Stripe.Customer> {
  return stripe.customers.create({ name: 'Acme Corp', email });
}

/** Creates a draft as the billing service does, with two items attached through `invoice=`. */
async function draftWithItems(stripe: Stripe, customer: Stripe.Customer, number: string): Promise<Stripe.Invoice> {
  const draft = await stripe.invoices.create({
    customer: customer.id,
    collection_method: 'send_invoice',
    days_until_due: 30,
    currency: 'usd',
    number,
    metadata: { billingInvoiceId: `inv-${number}`, billingTenantId: 'tenant-1' },
  });
  await stripe.invoiceItems.create({
    customer: customer.id,
    invoice: draft.id,
    description: 'CPR class',
    quantity: 2,
    unit_amount_decimal: Stripe.Decimal.from(4500),
  });
  await stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, description: 'Manual', amount: 1000 });

  return stripe.invoices.retrieve(draft.id);
}

describe('customers', () => {
  it('creates a customer with address, metadata and a tax id', async () => {
    const stripe = freshClient();

    const customer = await stripe.customers.create({
      name: 'Acme Corp',
      email: 'billing@acme.example',
      address: { line1: '1 Main St', city: 'Chicago', state: 'IL', postal_code: '60601', country: 'us' },
      tax_id_data: [{ type: 'us_ein', value: '12-3456789' }],
      metadata: { billingCustomerId: 'c-1' },
      expand: ['tax_ids'],
    });

    expect(customer.id).toMatch(/^cus_/);
    expect(customer.address?.country).toBe('US');
    expect(customer.metadata).toEqual({ billingCustomerId: 'c-1' });
    expect(customer.tax_ids?.data.map((taxId) => [taxId.type, taxId.value])).toEqual([['us_ein', '12-3456789']]);
    expect(await eventTypes(stripe, 'customer.*')).toEqual(['customer.created', 'customer.tax_id.created']);
  });

  it('leaves tax ids out unless expanded', async () => {
    const stripe = freshClient();
    const created = await stripe.customers.create({ name: 'Acme', tax_id_data: [{ type: 'us_ein', value: '12-3456789' }] });

    const customer = await stripe.customers.retrieve(created.id);

    expect((customer as Stripe.Customer).tax_ids).toBeUndefined();
  });

  it('rejects a tax id in the wrong format and creates nothing', async () => {
    const stripe = freshClient();

    const error = await rejection(stripe.customers.create({ name: 'Acme', tax_id_data: [{ type: 'us_ein', value: 'nope' }] }));
    const customers = await stripe.customers.list();

    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('tax_id_invalid');
    expect(error.param).toBe('tax_id_data[0][value]');
    expect(customers.data).toEqual([]);
  });

  it('rejects an unknown tax id type', async () => {
    const stripe = freshClient();

    const error = await rejection(stripe.customers.create({ name: 'Acme', tax_id_data: [{ type: 'xx_nothing', value: '1' }] }));

    expect(error.param).toBe('tax_id_data[0][type]');
  });

  it('replays a create with the same idempotency key', async () => {
    const stripe = freshClient();

    const first = await stripe.customers.create({ name: 'Acme' }, { idempotencyKey: 'customer-1' });
    const second = await stripe.customers.create({ name: 'Acme' }, { idempotencyKey: 'customer-1' });

    expect(second.id).toBe(first.id);
  });
});

describe('invoices', () => {
  it('creates a send_invoice draft with our number and metadata', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);

    const draft = await draftWithItems(stripe, customer, 'INV-2026-00001');

    expect(draft.status).toBe('draft');
    expect(draft.number).toBe('INV-2026-00001');
    expect(draft.collection_method).toBe('send_invoice');
    expect(draft.metadata).toEqual({ billingInvoiceId: 'inv-INV-2026-00001', billingTenantId: 'tenant-1' });
    expect(draft.total).toBe(10_000);
    expect(draft.lines.data.map((line) => [line.description, line.quantity, line.amount])).toEqual([
      ['CPR class', 2, 9000],
      ['Manual', 1, 1000],
    ]);
    expect(draft.hosted_invoice_url).toBeNull();
  });

  it('leaves pending items off a new invoice by default', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    await stripe.invoiceItems.create({ customer: customer.id, currency: 'usd', amount: 500 });

    const draft = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 7 });

    expect(draft.total).toBe(0);
  });

  it('includes pending items when asked', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    await stripe.invoiceItems.create({ customer: customer.id, currency: 'usd', amount: 500 });

    const draft = await stripe.invoices.create({
      customer: customer.id,
      collection_method: 'send_invoice',
      days_until_due: 7,
      currency: 'usd',
      pending_invoice_items_behavior: 'include',
    });

    expect(draft.total).toBe(500);
  });

  it('requires days_until_due or due_date for send_invoice', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);

    const error = await rejection(stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice' }));

    expect(error.statusCode).toBe(400);
  });

  it('rejects a number another invoice of the account has', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    await draftWithItems(stripe, customer, 'INV-2026-00007');

    const error = await rejection(
      stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 1, number: 'INV-2026-00007' }),
    );

    expect(error.param).toBe('number');
  });

  it('finalizes with the number kept, a due date and hosted pages', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00002');

    const open = await stripe.invoices.finalizeInvoice(draft.id, { auto_advance: false });

    expect(open.status).toBe('open');
    expect(open.number).toBe('INV-2026-00002');
    expect(open.due_date).toBe((open.status_transitions.finalized_at ?? 0) + 30 * 86_400);
    expect(open.hosted_invoice_url).toBe(`${baseUrl}/invoices/${open.id}`);
    expect(open.invoice_pdf).toBe(`${baseUrl}/invoices/${open.id}/pdf`);
    expect(open.amount_due).toBe(10_000);
  });

  it('numbers an invoice without a number from the customer prefix', async () => {
    const stripe = freshClient();
    const customer = await stripe.customers.create({ name: 'Acme', email: 'a@acme.example', invoice_prefix: 'ACME' });
    const draft = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 1 });
    await stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 700 });

    const open = await stripe.invoices.finalizeInvoice(draft.id);

    expect(open.number).toBe('ACME-0001');
  });

  it('pays an invoice with nothing to pay at finalization', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 1 });

    const finalized = await stripe.invoices.finalizeInvoice(draft.id);

    expect(finalized.status).toBe('paid');
  });

  it('refuses a second finalization', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00003');
    await stripe.invoices.finalizeInvoice(draft.id);

    const error = await rejection(stripe.invoices.finalizeInvoice(draft.id));

    expect(error.statusCode).toBe(400);
  });

  it('refuses items on a finalized invoice', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00004');
    await stripe.invoices.finalizeInvoice(draft.id);

    const error = await rejection(stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 100 }));

    expect(error.code).toBe('invoice_not_editable');
  });

  it('sends, pays out of band and emits the events in order', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00005');
    await stripe.invoices.finalizeInvoice(draft.id);
    await stripe.invoices.sendInvoice(draft.id);

    const paid = await stripe.invoices.pay(draft.id, { paid_out_of_band: true });

    expect(paid.status).toBe('paid');
    expect(paid.amount_paid).toBe(10_000);
    expect(paid.amount_remaining).toBe(0);
    expect(paid.status_transitions.paid_at).toEqual(expect.any(Number));
    expect(await eventTypes(stripe, 'invoice.*')).toEqual([
      'invoice.created',
      'invoice.finalized',
      'invoice.sent',
      'invoice.payment_succeeded',
      'invoice.paid',
    ]);
  });

  it('pays with a test card through a PaymentIntent', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00006');
    await stripe.invoices.finalizeInvoice(draft.id);

    const paid = await stripe.invoices.pay(draft.id, { payment_method: 'pm_card_visa' });

    expect(paid.status).toBe('paid');
    expect(await eventTypes(stripe, 'payment_intent.succeeded')).toHaveLength(1);
  });

  it('answers 402 and emits invoice.payment_failed for a declined card', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00008');
    await stripe.invoices.finalizeInvoice(draft.id);

    const error = await rejection(stripe.invoices.pay(draft.id, { payment_method: 'pm_card_chargeDeclined' }));
    const invoice = await stripe.invoices.retrieve(draft.id);

    expect(error.statusCode).toBe(402);
    expect(invoice.status).toBe('open');
    expect(invoice.attempt_count).toBe(1);
    expect(await eventTypes(stripe, 'invoice.payment_failed')).toEqual(['invoice.payment_failed']);
  });

  it('voids an open invoice and keeps its number', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00009');
    await stripe.invoices.finalizeInvoice(draft.id);

    const voided = await stripe.invoices.voidInvoice(draft.id);

    expect(voided.status).toBe('void');
    expect(voided.number).toBe('INV-2026-00009');
    expect(voided.status_transitions.voided_at).toEqual(expect.any(Number));
  });

  it('refuses to void a paid invoice', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00010');
    await stripe.invoices.finalizeInvoice(draft.id);
    await stripe.invoices.pay(draft.id, { paid_out_of_band: true });

    const error = await rejection(stripe.invoices.voidInvoice(draft.id));

    expect(error.statusCode).toBe(400);
  });

  it('marks an open invoice uncollectible, then pays it', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00011');
    await stripe.invoices.finalizeInvoice(draft.id);

    const uncollectible = await stripe.invoices.markUncollectible(draft.id);
    const paid = await stripe.invoices.pay(draft.id, { paid_out_of_band: true });

    expect(uncollectible.status).toBe('uncollectible');
    expect(paid.status).toBe('paid');
  });

  it('deletes a draft with its items', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00012');

    const deleted = await stripe.invoices.del(draft.id);
    const items = await stripe.invoiceItems.list({ customer: customer.id });

    expect(deleted.deleted).toBe(true);
    expect(items.data).toEqual([]);
  });

  it('lists every line of an invoice past the ten embedded ones', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 1, currency: 'usd' });
    for (let position = 1; position <= 12; position++) {
      await stripe.invoiceItems.create({ invoice: draft.id, amount: position * 100, metadata: { position: String(position) } });
    }

    const embedded = await stripe.invoices.retrieve(draft.id);
    const all = await stripe.invoices.listLineItems(draft.id).autoPagingToArray({ limit: 100 });

    expect(embedded.lines.has_more).toBe(true);
    expect(all.map((line) => line.metadata.position)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12']);
  });

  it('serves the hosted page and the PDF of a finalized invoice', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00013');
    const open = await stripe.invoices.finalizeInvoice(draft.id);

    const page = await fetch(open.hosted_invoice_url ?? '');
    const pdf = await fetch(open.invoice_pdf ?? '');

    expect(page.status).toBe(200);
    expect(await page.text()).toContain('INV-2026-00013');
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 8).toString('latin1')).toBe('%PDF-1.4');
  });

  it('pays from the hosted page', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00014');
    const open = await stripe.invoices.finalizeInvoice(draft.id);

    await fetch(open.hosted_invoice_url ?? '', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'outcome=succeeded',
      redirect: 'manual',
    });

    expect((await stripe.invoices.retrieve(open.id)).status).toBe('paid');
  });
});

describe('invoice search', () => {
  it('finds an invoice by metadata only after the index delay', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00020');
    const query = "metadata['billingInvoiceId']:'inv-INV-2026-00020'";

    const early = await stripe.invoices.search({ query });
    await sleep(SEARCH_DELAY_MS + 100);
    const late = await stripe.invoices.search({ query });

    expect(early.data).toEqual([]);
    expect(late.data.map((invoice) => invoice.id)).toEqual([draft.id]);
  });

  it('returns the invoice as it is now', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    const draft = await draftWithItems(stripe, customer, 'INV-2026-00021');
    await sleep(SEARCH_DELAY_MS + 100);
    await stripe.invoices.finalizeInvoice(draft.id);

    const found = await stripe.invoices.search({ query: "metadata['billingInvoiceId']:'inv-INV-2026-00021'" });

    expect(found.data[0].status).toBe('open');
  });

  it('combines clauses with AND', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    await draftWithItems(stripe, customer, 'INV-2026-00022');
    await sleep(SEARCH_DELAY_MS + 100);

    const match = await stripe.invoices.search({ query: "number:'INV-2026-00022' AND status:'draft' AND total>9999" });
    const miss = await stripe.invoices.search({ query: "number:'INV-2026-00022' AND status:'open'" });

    expect(match.data).toHaveLength(1);
    expect(miss.data).toEqual([]);
  });

  it('never finds another account\'s invoices', async () => {
    const owner = freshClient();
    const other = freshClient();
    await draftWithItems(owner, await customerOf(owner), 'INV-2026-00023');
    await sleep(SEARCH_DELAY_MS + 100);

    const found = await other.invoices.search({ query: "number:'INV-2026-00023'" });

    expect(found.data).toEqual([]);
  });

  it('pages with next_page', async () => {
    const stripe = freshClient();
    const customer = await customerOf(stripe);
    for (let index = 0; index < 3; index++) {
      await stripe.invoices.create({ customer: customer.id, collection_method: 'send_invoice', days_until_due: 1, metadata: { batch: 'b1' } });
    }
    await sleep(SEARCH_DELAY_MS + 100);

    const first = await stripe.invoices.search({ query: "metadata['batch']:'b1'", limit: 2 });
    const second = await stripe.invoices.search({ query: "metadata['batch']:'b1'", limit: 2, page: first.next_page ?? undefined });

    expect(first.has_more).toBe(true);
    expect(second.data).toHaveLength(1);
    expect(second.has_more).toBe(false);
  });

  it('rejects an unsupported field', async () => {
    const stripe = freshClient();

    const error = await rejection(stripe.invoices.search({ query: "colour:'red'" }));

    expect(error.statusCode).toBe(400);
    expect(error.param).toBe('query');
  });

  it('rejects mixing AND with OR', async () => {
    const stripe = freshClient();

    const error = await rejection(stripe.invoices.search({ query: "status:'open' AND currency:'usd' OR total>1" }));

    expect(error.statusCode).toBe(400);
  });
});
