import { ClsServiceManager } from 'nestjs-cls';
import { APP_ROLE } from '../database/database-roles';
import { Principal } from '../roles/roles';
import { RequestContext } from './request-context';

const TENANT_ID = '2b1f4a9e-6f1d-4c55-9c1e-0d6b7f1a2c3d';
const OPERATOR: Principal = { kind: 'operator', id: 'operator-1', label: 'ops@example.com', role: 'operator', tenantId: null, userId: 'operator-1', via: 'token' };

describe('RequestContext.runInTenant', () => {
  const cls = ClsServiceManager.getClsService();
  const context = new RequestContext(cls);

  it('gives an operator no tenant outside runInTenant', async () => {
    const scopes = await cls.run(async () => {
      context.setPrincipal(OPERATOR);
      const before = context.databaseScope();
      const inside = await context.runInTenant(TENANT_ID, async () => context.databaseScope());

      return { before, inside, after: context.databaseScope() };
    });

    expect(scopes.before).toEqual({ role: APP_ROLE, tenantId: '' });
    expect(scopes.inside).toEqual({ role: APP_ROLE, tenantId: TENANT_ID });
    expect(scopes.after).toEqual({ role: APP_ROLE, tenantId: '' });
  });

  it('keeps the principal and correlation id', async () => {
    const seen = await cls.run(async () => {
      context.setPrincipal(OPERATOR);
      cls.set('correlationId', 'request-1');

      return context.runInTenant(TENANT_ID, async () => ({ principal: context.principal, correlationId: context.correlationId }));
    });

    expect(seen).toEqual({ principal: OPERATOR, correlationId: 'request-1' });
  });

  it('rejects a tenant id that is not a UUID', async () => {
    await expect(cls.run(() => context.runInTenant('not-a-uuid', async () => 'ran'))).rejects.toThrow(/needs a UUID tenant id/);
  });
});

describe('RequestContext.runWithoutTenant', () => {
  const cls = ClsServiceManager.getClsService();
  const context = new RequestContext(cls);

  it('drops the tenant and principal of the caller', async () => {
    const seen = await cls.run(async () => {
      context.setPrincipal({ ...OPERATOR, kind: 'user', role: 'admin', tenantId: TENANT_ID });

      return context.runWithoutTenant(async () => ({ scope: context.databaseScope(), principal: context.principal, correlationId: context.correlationId }));
    });

    expect(seen.scope).toEqual({ role: APP_ROLE, tenantId: '' });
    expect(seen.principal).toBeUndefined();
    expect(seen.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
