import { RequestContext } from '@app/common/context/request-context';
import { FieldError, notFound } from '@app/common/errors/domain-error';
import { TENANT_ROLES, TenantRole } from '@app/common/roles/roles';
import { CreateUserInput } from '@app/contracts/tenancy.contracts';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditLogService } from './audit-log.service';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords';
import { checkEmail, isUuid, normalizeEmail } from './tenant-validation';
import { TenantsRepository } from './tenants.repository';
import { alreadyExists, assertValid, isUniqueViolation, tenantNotFound } from './tenancy.errors';
import { UsersRepository } from './users.repository';
import { SessionsRepository } from './sessions.repository';

export interface UserBody {
  id: string;
  email: string;
  role: string;
  tenantId: string | null;
  createdAt: string;
}

/**
 * Creates tenant users and platform operators. A tenant user is one login
 * identity per email across tenants. Adding an email that already has an
 * identity to a second tenant adds a membership to that identity. The password
 * given must then be the identity's current one, so an operator can never
 * reset another tenant's login by accident.
 */
@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly tenants: TenantsRepository,
    private readonly auditLog: AuditLogService,
    private readonly sessions: SessionsRepository,
    private readonly context: RequestContext,
  ) {}

  /**
   * Revoke every live session of the user with this email, for an operator
   * who suspects a stolen cookie or removes a person. A tenant user's sessions
   * are revoked in each tenant that has one, together with that tenant's
   * audit entry, so a failure part way leaves each tenant consistent. An
   * operator's sessions, and a user without live sessions, get one platform
   * entry.
   */
  async revokeSessions(rawEmail: string, operator: boolean): Promise<{ revoked: number }> {
    const email = normalizeEmail(rawEmail);
    const userId = operator ? (await this.users.findOperatorLogin(email))?.userId : (await this.users.findTenantUserIdentity(email))?.id;
    if (userId === undefined) {
      throw notFound('user');
    }

    const now = new Date();
    let revoked = 0;
    const tenantIds = operator ? [] : await this.sessions.findSessionTenants(userId, now);
    for (const tenantId of tenantIds) {
      revoked += await this.context.runInTenant(tenantId, () =>
        this.dataSource.transaction(async (manager) => {
          const count = await this.sessions.revokeAllForUser(manager, userId, now);
          await this.auditLog.record({ tenantId, action: 'sessions.revoked', details: { userId, operator, revoked: count } }, manager);

          return count;
        }),
      );
    }

    if (tenantIds.length === 0) {
      revoked = await this.dataSource.transaction(async (manager) => {
        const count = operator ? await this.sessions.revokeOperatorSessions(manager, userId, now) : 0;
        await this.auditLog.record({ tenantId: null, action: 'sessions.revoked', details: { userId, operator, revoked: count } }, manager);

        return count;
      });
    }
    this.logger.log({ userId, revoked }, 'Sessions revoked by an operator');

    return { revoked };
  }

  async create(input: CreateUserInput): Promise<UserBody> {
    const email = normalizeEmail(input.email);
    assertValid([...checkEmail(email), ...checkPasswordPolicy(input.password), ...checkRole(input)]);

    const created = input.tenantId === null
      ? await this.createOperator(email, input.password)
      : await this.createTenantUser(input.tenantId, email, input.password, input.role as TenantRole);
    this.logger.log({ tenantId: created.tenantId, userId: created.id, role: created.role }, 'User created');

    return created;
  }

  private async createOperator(email: string, password: string): Promise<UserBody> {
    const passwordHash = await hashPassword(password);

    try {
      return await this.dataSource.transaction(async (manager) => {
        const user = await this.users.insertOperator(manager, { email, passwordHash });
        await this.auditLog.record({ tenantId: null, action: 'user.created', details: { userId: user.id, email, role: 'operator' } }, manager);

        return { id: user.id, email, role: 'operator', tenantId: null, createdAt: user.createdAt.toISOString() };
      });
    } catch (error) {
      if (isUniqueViolation(error, 'users_operator_email_key')) {
        throw alreadyExists('email', 'is already an operator', `An operator with the email ${email} already exists.`);
      }
      throw error;
    }
  }

  /**
   * Adds a user to a tenant, in that tenant as the app role. The identity
   * with this email may already belong to other tenants, which the tenant's
   * scope cannot see, so it is found, and a new one created, through
   * SECURITY DEFINER functions.
   */
  private async createTenantUser(tenantId: string, email: string, password: string, role: TenantRole): Promise<UserBody> {
    if (!isUuid(tenantId)) {
      throw tenantNotFound();
    }

    return this.context.runInTenant(tenantId, async () => {
      const tenant = await this.tenants.findById(tenantId);
      if (!tenant) {
        throw tenantNotFound();
      }

      const existing = await this.users.findTenantUserIdentity(email);
      if (existing) {
        await this.checkExistingIdentity(existing, tenant.id, password);
      }
      const passwordHash = existing ? null : await hashPassword(password);

      try {
        return await this.dataSource.transaction(async (manager) => {
          let user: { id: string; createdAt: Date };
          if (existing) {
            const membership = await this.users.insertMembership(manager, { tenantId: tenant.id, userId: existing.id, role });
            user = { id: existing.id, createdAt: membership.createdAt };
          } else {
            user = await this.users.insertTenantUser(manager, { email, passwordHash: passwordHash as string, role });
          }
          await this.auditLog.record({ tenantId: tenant.id, action: 'user.created', details: { userId: user.id, email, role } }, manager);

          return { id: user.id, email, role, tenantId: tenant.id, createdAt: user.createdAt.toISOString() };
        });
      } catch (error) {
        if (isUniqueViolation(error, 'memberships_tenant_user_key') || isUniqueViolation(error, 'users_tenant_user_email_key')) {
          throw emailTaken(email);
        }
        throw error;
      }
    });
  }

  private async checkExistingIdentity(user: { id: string; email: string; passwordHash: string }, tenantId: string, password: string): Promise<void> {
    if (await this.users.findMembership(tenantId, user.id)) {
      throw emailTaken(user.email);
    }

    if (!(await verifyPassword(user.passwordHash, password))) {
      throw alreadyExists(
        'email',
        'already has a login in another tenant with a different password',
        `${user.email} already logs in to another tenant. Give that login's password to add this tenant to it, or use another email.`,
      );
    }
  }
}

function emailTaken(email: string): ReturnType<typeof alreadyExists> {
  return alreadyExists('email', 'is already a user of this tenant', `A user with the email ${email} already exists in this tenant.`);
}

function checkRole(input: CreateUserInput): FieldError[] {
  if (input.tenantId === null) {
    return input.role === 'operator' ? [] : [{ field: 'role', message: 'must be operator for a user without a tenant' }];
  }

  return (TENANT_ROLES as readonly string[]).includes(input.role) ? [] : [{ field: 'role', message: 'must be one of owner, admin, staff' }];
}
