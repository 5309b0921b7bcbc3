import { Injectable } from '@nestjs/common';
import { ClsService } from 'nestjs-cls';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_ROLE, DatabaseScope } from '../database/database-roles';
import { SharedConnection, checkOutSharedConnection } from '../database/scoped-connections';
import { Principal } from '../roles/roles';

const TENANT_ID = 'tenantId';
const PRINCIPAL = 'principal';
const CORRELATION_ID = 'correlationId';
const SHARED_CONNECTION = 'sharedConnection';
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The tenant and principal of the current request or job, carried by
 * AsyncLocalStorage (nestjs-cls). Repositories of tenant data read the tenant
 * from here and refuse to run without one, and every database connection takes
 * its row-level security scope from here when it is checked out of the pool.
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

  /**
   * Set the principal, and with it the tenant. An operator has no tenant, so
   * an operator's request queries as the app role in no tenant, where the
   * policies admit no row. It reaches tenants' rows only in a tenant
   * (runInTenant) or through the SECURITY DEFINER functions.
   */
  setPrincipal(principal: Principal): void {
    this.cls.set(PRINCIPAL, principal);
    this.cls.set(TENANT_ID, principal.tenantId ?? undefined);
  }

  /**
   * Returns the role and tenant setting for a connection checked out now. Outside any
   * context, and in a context without a tenant, the tenant is empty and the
   * policies admit no row.
   */
  databaseScope(): DatabaseScope {
    return { role: APP_ROLE, tenantId: this.tenantId ?? '' };
  }

  /** Return the connection the current unit of work shares between its checkouts (runOnOneConnection), if any. */
  sharedConnection(): SharedConnection | undefined {
    return this.cls.isActive() ? this.cls.get<SharedConnection | undefined>(SHARED_CONNECTION) : undefined;
  }

  /**
   * Run `work` with one connection of `dataSource`, checked out in the
   * current scope, that its statements and transactions take in turn (see
   * SharedConnection). For jobs that run many short statements of one tenant:
   * the scope is applied once and the pool is waited on once. The connection
   * is held until `work` ends, so `work` should not wait on anything slow.
   */
  async runOnOneConnection<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
    const shared = await checkOutSharedConnection(dataSource);
    try {
      return await this.cls.run({ ifNested: 'inherit' }, () => {
        this.cls.set(SHARED_CONNECTION, shared);

        return work();
      });
    } finally {
      shared.release();
    }
  }

  /** Run `work` as the given tenant, in a context of its own: how jobs re-enter their tenant. */
  runAsTenant<T>(tenantId: string, work: () => Promise<T>, correlationId: string = randomUUID()): Promise<T> {
    return this.cls.run(async () => {
      this.cls.set(TENANT_ID, tenantId);
      this.cls.set(CORRELATION_ID, correlationId);

      return work();
    });
  }

  /**
   * Run `work` in a context of its own with no tenant and no principal, and a
   * new correlation id: how an ops CLI command runs. Its queries see no row
   * until it enters a tenant.
   */
  runWithoutTenant<T>(work: () => Promise<T>): Promise<T> {
    return this.cls.run({ ifNested: 'override' }, async () => {
      this.cls.set(CORRELATION_ID, randomUUID());

      return work();
    });
  }

  /**
   * Run `work` of the current request in one tenant, as the app role, with
   * the request's principal and correlation id. Operator routes and ops CLI
   * commands that act on one tenant use it, since an operator has no tenant
   * of its own. `tenantId` must be a UUID, because the policies cast the
   * tenant setting to uuid and a query would fail on anything else.
   */
  async runInTenant<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    if (!UUID_PATTERN.test(tenantId)) {
      throw new Error(`runInTenant needs a UUID tenant id, got ${JSON.stringify(tenantId)}`);
    }

    return this.runAsTenant(tenantId, work, this.correlationId);
  }
}
