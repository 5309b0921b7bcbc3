import type Stripe from 'stripe';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AddCustomerStripeAccount1764912000000 } from '../../migrations/1764912000000-add-customer-stripe-account';
import { dataSourceOptions } from '../../src/database/data-source';
import { createTenant, createToken } from '../support/factories';
import { createEmulatorAccount } from '../support/stripe-account';
import { TestApp, startTestApp } from '../support/test-app';
import { TEST_DATABASE_URL } from '../support/test-env';
import { CUSTOMERS, MISSING_ID, connectedB2bTenant, createCustomer, dataSource } from './invoicing-helpers';

const CUSTOMER_FIELDS = ['address', 'createdAt', 'email', 'id', 'livemode', 'name', 'stripeCustomerId', 'taxId'];

const FULL_CUSTOMER = {
  name: 'Acme Corp',
  email: 'billing@acme.example',
  taxId: { type: 'us_ein', value: '12-3456789' },
  address: { line1: '1 Main St', line2: 'Suite 400', city: 'Chicago', state: 'IL', postalCode: '60601', country: 'us' },
};

describe('customers', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  describe('POST /api/v1/customers', () => {
    it('creates a customer with every contract field', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send(FULL_CUSTOMER);

      expect(response.status).toBe(201);
      expect(Object.keys(response.body).sort()).toEqual(CUSTOMER_FIELDS);
      expect(response.body.taxId).toEqual({ type: 'us_ein', value: '12-3456789' });
      expect(response.body.address).toEqual({ ...FULL_CUSTOMER.address, country: 'US' });
      expect(response.body.livemode).toBe(false);
      expect(response.body.stripeCustomerId).toMatch(/^cus_/);
    });

    it('creates the customer in the tenant\'s Stripe account with our ids and the tax id', async () => {
      const tenant = await connectedB2bTenant(t);

      const customer = await createCustomer(t, tenant, FULL_CUSTOMER);
      const inStripe = await tenant.stripe.customers.retrieve(customer.stripeCustomerId, { expand: ['tax_ids'] });

      expect(inStripe.deleted).toBeUndefined();
      const stripeCustomer = inStripe as Stripe.Customer;
      expect(stripeCustomer.name).toBe('Acme Corp');
      expect(stripeCustomer.email).toBe('billing@acme.example');
      expect(stripeCustomer.metadata).toEqual({ billingCustomerId: customer.id, billingTenantId: tenant.tenantId });
      expect(stripeCustomer.tax_ids?.data.map((taxId) => [taxId.type, taxId.value])).toEqual([['us_ein', '12-3456789']]);
      expect(stripeCustomer.address?.postal_code).toBe('60601');
    });

    it('accepts a customer without tax id and address', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ name: 'Beta LLC', email: 'ap@beta.example' });

      expect(response.status).toBe(201);
      expect(response.body.taxId).toBeNull();
      expect(response.body.address).toBeNull();
    });

    it('requires name and email', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({});

      expect(response.status).toBe(400);
      expect([...new Set(response.body.errors.map((error: { field: string }) => error.field))].sort()).toEqual(['email', 'name']);
    });

    it('rejects an unknown tax id type', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ ...FULL_CUSTOMER, taxId: { type: 'zz_nothing', value: '1' } });

      expect(response.status).toBe(400);
      expect(response.body.errors[0].field).toBe('taxId.type');
    });

    it('answers 400 on taxId.value when Stripe rejects its format', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ ...FULL_CUSTOMER, taxId: { type: 'us_ein', value: 'not-an-ein' } });
      const list = await t.http().get(CUSTOMERS).set(tenant.auth);

      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([{ field: 'taxId.value', message: 'is not a valid tax id of this type' }]);
      expect(list.body.data).toEqual([]);
    });

    it('rejects an unassigned country code', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ ...FULL_CUSTOMER, address: { ...FULL_CUSTOMER.address, country: 'QQ' } });

      expect(response.status).toBe(400);
      expect(response.body.errors).toEqual([{ field: 'address.country', message: 'must be a two-letter ISO 3166-1 country code, such as US' }]);
    });

    it('accepts Kosovo as Stripe writes it', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ ...FULL_CUSTOMER, address: { ...FULL_CUSTOMER.address, country: 'xk' } });

      expect(response.status).toBe(201);
      expect(response.body.address.country).toBe('XK');
    });

    it('rejects a blank address line1 and city', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ ...FULL_CUSTOMER, address: { ...FULL_CUSTOMER.address, line1: '  ', city: '\u200b' } });
      const list = await t.http().get(CUSTOMERS).set(tenant.auth);

      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors).toEqual([
        { field: 'address.line1', message: 'must not be blank' },
        { field: 'address.city', message: 'must not be blank' },
      ]);
      expect(list.body.data).toEqual([]);
    });

    it('rejects a blank address part of every kind', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ ...FULL_CUSTOMER, address: { line1: '\t', line2: '\u00a0', city: '\u2060', state: ' ', postalCode: '\ufeff', country: 'US' } });

      expect(response.status).toBe(400);
      expect(response.body.errors.map((error: { field: string }) => error.field)).toEqual([
        'address.line1',
        'address.line2',
        'address.city',
        'address.state',
        'address.postalCode',
      ]);
    });

    it('stores an empty address part as null', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ ...FULL_CUSTOMER, address: { ...FULL_CUSTOMER.address, line2: '', state: '' } });

      expect(response.status).toBe(201);
      expect(response.body.address).toEqual({ ...FULL_CUSTOMER.address, line2: null, state: null, country: 'US' });
      const inStripe = (await tenant.stripe.customers.retrieve(response.body.stripeCustomerId)) as Stripe.Customer;
      expect(inStripe.address?.line1).toBe('1 Main St');
      expect(inStripe.address?.line2).toBeNull();
      expect(inStripe.address?.state).toBeNull();
    });

    it('takes an address of empty parts as none', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ ...FULL_CUSTOMER, address: { line1: '', city: '' } });

      expect(response.status).toBe(201);
      expect(response.body.address).toBeNull();
    });

    it('rejects an unknown field in the address', async () => {
      const tenant = await connectedB2bTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send({ ...FULL_CUSTOMER, address: { street: 'Main' } });

      expect(response.status).toBe(400);
    });

    it('answers 409 stripe_not_connected before Stripe is connected', async () => {
      const tenant = await createTenant(t);

      const response = await t.http().post(CUSTOMERS).set(tenant.auth).send(FULL_CUSTOMER);

      expect(response.status).toBe(409);
      expect(response.body.code).toBe('stripe_not_connected');
    });

    it('answers 422 stripe_keys_invalid once Stripe rejects the key', async () => {
      const tenant = await connectedB2bTenant(t);
      await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: tenant.account.test.secretKey }).expect(201);

      const first = await t.http().post(CUSTOMERS).set(tenant.auth).send(FULL_CUSTOMER);
      const second = await t.http().post(CUSTOMERS).set(tenant.auth).send(FULL_CUSTOMER);

      expect(first.status).toBe(422);
      expect(first.body.code).toBe('stripe_keys_invalid');
      expect(second.body.code).toBe('stripe_keys_invalid');
    });

    it('forbids staff', async () => {
      const tenant = await connectedB2bTenant(t);
      const staff = await createToken(t, tenant.tenantId, 'staff');

      const response = await t.http().post(CUSTOMERS).set(staff).send(FULL_CUSTOMER);

      expect(response.status).toBe(403);
    });
  });

  describe('GET /api/v1/customers', () => {
    it('lists newest first with a cursor', async () => {
      const tenant = await connectedB2bTenant(t);
      const first = await createCustomer(t, tenant, { name: 'First' });
      const second = await createCustomer(t, tenant, { name: 'Second' });

      const page = await t.http().get(CUSTOMERS).query({ limit: 1 }).set(tenant.auth);
      const next = await t.http().get(CUSTOMERS).query({ limit: 1, cursor: page.body.nextCursor }).set(tenant.auth);

      expect(page.body.data.map((customer: { id: string }) => customer.id)).toEqual([second.id]);
      expect(next.body.data.map((customer: { id: string }) => customer.id)).toEqual([first.id]);
      expect(next.body.nextCursor).toBeNull();
    });

    it('reads one customer', async () => {
      const tenant = await connectedB2bTenant(t);
      const customer = await createCustomer(t, tenant, FULL_CUSTOMER);

      const response = await t.http().get(`${CUSTOMERS}/${customer.id}`).set(tenant.auth);

      expect(response.status).toBe(200);
      expect(response.body.taxId).toEqual({ type: 'us_ein', value: '12-3456789' });
    });

    it('lets staff read customers', async () => {
      const tenant = await connectedB2bTenant(t);
      await createCustomer(t, tenant);
      const staff = await createToken(t, tenant.tenantId, 'staff');

      const response = await t.http().get(CUSTOMERS).set(staff);

      expect(response.body.data).toHaveLength(1);
    });
  });

  describe('tenant isolation', () => {
    it('answers 404 for another tenant\'s customer exactly as for a missing one', async () => {
      const owner = await connectedB2bTenant(t);
      const rival = await createTenant(t);
      const customer = await createCustomer(t, owner);

      const foreign = await t.http().get(`${CUSTOMERS}/${customer.id}`).set(rival.auth);
      const missing = await t.http().get(`${CUSTOMERS}/${MISSING_ID}`).set(rival.auth);

      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual(missing.body);
    });

    it('shows another tenant an empty list', async () => {
      const owner = await connectedB2bTenant(t);
      const rival = await createTenant(t);
      await createCustomer(t, owner);

      const response = await t.http().get(CUSTOMERS).set(rival.auth);

      expect(response.body).toEqual({ data: [], nextCursor: null });
    });

    it('answers 404 for a malformed id', async () => {
      const tenant = await createTenant(t);

      const response = await t.http().get(`${CUSTOMERS}/cus_123`).set(tenant.auth);

      expect(response.status).toBe(404);
    });
  });

  describe('Stripe account of a customer', () => {
    async function storedAccountOf(customerId: string): Promise<string | null> {
      const rows: { stripe_account_id: string | null }[] = await dataSource(t).query(`SELECT stripe_account_id FROM customers WHERE id = $1`, [customerId]);

      return rows[0].stripe_account_id;
    }

    it('stores the account the customer was created in', async () => {
      const tenant = await connectedB2bTenant(t);

      const customer = await createCustomer(t, tenant);

      expect(await storedAccountOf(customer.id)).toBe(tenant.account.id);
    });

    it('is filled for existing customers by the migration', async () => {
      const tenant = await connectedB2bTenant(t);
      const earlier = await createCustomer(t, tenant);
      await t.http().delete('/api/v1/settings/billing/stripe').set(tenant.auth).expect(204);
      const current = await createEmulatorAccount(t);
      await t.http().post('/api/v1/settings/billing/stripe').set(tenant.auth).send(current.test).expect(201);
      const later = await createCustomer(t, tenant);

      // The migrating user owns the tables, which the service's roles do not, so it gets its own connection.
      const owner = await new DataSource(dataSourceOptions(TEST_DATABASE_URL)).initialize();
      const runner = owner.createQueryRunner();
      const migration = new AddCustomerStripeAccount1764912000000();
      let filled: { id: string; stripe_account_id: string | null }[];
      try {
        await runner.startTransaction();
        await migration.down(runner);
        await migration.up(runner);
        filled = await runner.query(`SELECT id, stripe_account_id FROM customers WHERE tenant_id = $1`, [tenant.tenantId]);
      } finally {
        // The rollback restores the column as it was, so other tests never read the rerun's values.
        await runner.rollbackTransaction();
        await runner.release();
        await owner.destroy();
      }

      expect(filled.find((row) => row.id === earlier.id)?.stripe_account_id).toBe(tenant.account.id);
      expect(filled.find((row) => row.id === later.id)?.stripe_account_id).toBe(current.id);
    });
  });
});
