import { Injectable } from '@nestjs/common';
import { ClsService } from 'nestjs-cls';
import { randomUUID } from 'node:crypto';
import { Principal } from '../roles/roles';

const TENANT_ID = 'tenantId';
const PRINCIPAL = 'principal';
const CORRELATION_ID = 'correlationId';

/**
 * The tenant and principal of the current request or job, carried by
 * AsyncLocalStorage (nestjs-cls). Repositories of tenant data read the tenant
 * from here and refuse to run without one.
 */
@Injectable()
export class RequestContext {
  constructor(private readonly cls: ClsService) {}

  get tenantId(): string | undefined {
    return this.cls.isActive() ? this.cls.get<string | undefined>(TENANT_ID) : undefined;
  }

  get principal(): Principal | undefined {
    return this.cls.isActive() ? this.cls.get<Principal | undefined>(PRINCIPAL) : undefined;
  }

  get correlationId(): string | undefined {
    return this.cls.isActive() ? this.cls.get<string | undefined>(CORRELATION_ID) : undefined;
  }

  /** The current tenant; throws when none is set, which is a programming error, never a client's. */
  requireTenantId(): string {
    const tenantId = this.tenantId;
    if (!tenantId) {
      throw new Error('No tenant in the request context: tenant data was queried outside a tenant request or job');
    }

    return tenantId;
  }

  requirePrincipal(): Principal {
    const principal = this.principal;
    if (!principal) {
      throw new Error('No principal in the request context');
    }

    return principal;
  }

  setPrincipal(principal: Principal): void {
    this.cls.set(PRINCIPAL, principal);
    this.cls.set(TENANT_ID, principal.tenantId ?? undefined);
  }

  /** Run `work` as the given tenant, in a context of its own: how jobs re-enter their tenant. */
  runAsTenant<T>(tenantId: string, work: () => Promise<T>, correlationId: string = randomUUID()): Promise<T> {
    return this.cls.run(async () => {
      this.cls.set(TENANT_ID, tenantId);
      this.cls.set(CORRELATION_ID, correlationId);

      return work();
    });
  }

  /** Run `work` without a tenant, for the few reviewed paths that look across tenants. */
  runWithoutTenant<T>(work: () => Promise<T>): Promise<T> {
    return this.cls.run(async () => work());
  }
}
