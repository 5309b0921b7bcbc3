import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { randomBytes } from 'node:crypto';
import { TestApp } from './test-app';

export interface TenantFixture {
  tenantId: string;
  slug: string;
  /** Bearer token of the given role. */
  token: string;
  auth: { Authorization: string };
}

export function uniqueSlug(prefix = 'tenant'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** A fresh tenant and a token for it, made the way an operator makes them. */
export async function createTenant(t: TestApp, role: 'owner' | 'admin' | 'staff' = 'owner'): Promise<TenantFixture> {
  const admin = t.app.get<TenancyAdmin>(TENANCY_ADMIN);
  const slug = uniqueSlug();
  const tenant = await admin.createTenant({ slug, name: `Tenant ${slug}` });
  const created = await admin.createToken({ tenantId: tenant.id, role, label: `${role} token` });

  return { tenantId: tenant.id, slug, token: created.token, auth: { Authorization: `Bearer ${created.token}` } };
}

/** Another token of another role for an existing tenant. */
export async function createToken(t: TestApp, tenantId: string, role: 'owner' | 'admin' | 'staff'): Promise<{ Authorization: string }> {
  const created = await t.app.get<TenancyAdmin>(TENANCY_ADMIN).createToken({ tenantId, role, label: `${role} token` });

  return { Authorization: `Bearer ${created.token}` };
}

export async function createOperatorAuth(t: TestApp): Promise<{ Authorization: string }> {
  const created = await t.app.get<TenancyAdmin>(TENANCY_ADMIN).createToken({ tenantId: null, role: 'operator', label: 'test operator' });

  return { Authorization: `Bearer ${created.token}` };
}
