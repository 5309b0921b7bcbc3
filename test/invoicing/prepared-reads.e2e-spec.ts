import { RequestContext } from '@app/common/context/request-context';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { InvoiceEntity } from '../../src/modules/invoicing/invoice.entity';
import { InvoicesRepository } from '../../src/modules/invoicing/invoices.repository';
import { IssueInvoiceWhenPaymentSucceeded } from '../../src/modules/invoicing/issue-invoice-when-payment-succeeded.listener';
import { TenantEntity } from '../../src/modules/tenancy/tenant.entity';
import { TenantsRepository } from '../../src/modules/tenancy/tenants.repository';
import { createTenant } from '../support/factories';
import { TestApp, startTestApp } from '../support/test-app';
import { storeSucceededPayment } from './invoicing-helpers';

/**
 * Reads that bypass TypeORM's query builder for speed must return the same
 * entity, with the same types, as TypeORM's own find.
 */
describe('prepared entity reads', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  const database = (): DataSource => t.app.get(DataSource);
  const inTenant = <T>(tenantId: string, work: () => Promise<T>): Promise<T> => t.app.get(RequestContext).runAsTenant(tenantId, work);

  it('reads a tenant as TypeORM does', async () => {
    const { tenantId } = await createTenant(t);

    const prepared = await t.app.get(TenantsRepository).findById(tenantId);
    const viaTypeOrm = await database().getRepository(TenantEntity).findOneBy({ id: tenantId });

    expect(prepared).toBeInstanceOf(TenantEntity);
    expect(prepared).toEqual(viaTypeOrm);
  });

  /** Issues a paid invoice for a new succeeded payment of the tenant and returns the invoice's id. */
  async function paidInvoiceOf(tenantId: string): Promise<string> {
    const event = await storeSucceededPayment(t, tenantId);
    await inTenant(tenantId, () => t.app.get(IssueInvoiceWhenPaymentSucceeded).handle(event, randomUUID()));
    const [{ id }]: { id: string }[] = await database().query(`SELECT id FROM invoices WHERE payment_id = $1`, [event.payload.paymentId]);

    return id;
  }

  it('reads a paid invoice as TypeORM does', async () => {
    const { tenantId } = await createTenant(t);
    const id = await paidInvoiceOf(tenantId);

    const prepared = await inTenant(tenantId, () => t.app.get(InvoicesRepository).findEntity(tenantId, id));
    const viaTypeOrm = await inTenant(tenantId, () => database().getRepository(InvoiceEntity).findOneBy({ tenantId, id }));

    expect(prepared).toBeInstanceOf(InvoiceEntity);
    expect(prepared).toEqual(viaTypeOrm);
  });

  it('reads no invoice of another tenant', async () => {
    const owner = await createTenant(t);
    const other = await createTenant(t);
    const id = await paidInvoiceOf(owner.tenantId);

    expect(await inTenant(other.tenantId, () => t.app.get(InvoicesRepository).findEntity(owner.tenantId, id))).toBeNull();
  });
});
