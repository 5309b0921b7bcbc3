import { callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import type { TenantRole } from '@app/common/roles/roles';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { MembershipEntity } from './membership.entity';
import { UserEntity } from './user.entity';

/**
 * The data a login checks: the user with the email and its password hash, and
 * for a tenant login the tenant and the user's role in it.
 */
export interface LoginCandidate {
  userId: string;
  email: string;
  passwordHash: string;
  /** Null for an operator. */
  tenantId: string | null;
  /** Null for an operator. */
  role: TenantRole | null;
}

/**
 * Repository of users and their memberships. Emails are passed in already
 * normalised. A tenant's connection reads only the users who are members of
 * it. Logins go through SECURITY DEFINER functions that return only the one
 * requested user.
 */
@Injectable()
export class UsersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  findById(id: string): Promise<UserEntity | null> {
    return this.dataSource.getRepository(UserEntity).findOneBy({ id });
  }

  findMembership(tenantId: string, userId: string, manager?: EntityManager): Promise<MembershipEntity | null> {
    return (manager ?? this.dataSource.manager).getRepository(MembershipEntity).findOneBy({ tenantId, userId });
  }

  /**
   * Creates an operator identity, which belongs to no tenant, inside the
   * caller's transaction through the function app_create_operator. Returns the
   * user id and creation time.
   */
  async insertOperator(manager: EntityManager, user: { email: string; passwordHash: string }): Promise<{ id: string; createdAt: Date }> {
    const [row]: { user_id: string; created_at: Date }[] = await manager.query('SELECT user_id, created_at FROM app_create_operator($1, $2)', [
      user.email,
      user.passwordHash,
    ]);

    return { id: row.user_id, createdAt: row.created_at };
  }

  async insertMembership(manager: EntityManager, membership: { tenantId: string; userId: string; role: TenantRole }): Promise<MembershipEntity> {
    const repository = manager.getRepository(MembershipEntity);

    return repository.save(repository.create(membership));
  }

  /** Returns the member with this email of the tenant with this slug, or null when either is missing or the user is not a member. */
  async findTenantLogin(tenantSlug: string, email: string): Promise<LoginCandidate | null> {
    const rows = await callCrossTenantFunction<{ user_id: string; email: string; password_hash: string; tenant_id: string; role: TenantRole }>(
      this.dataSource,
      'app_find_tenant_login',
      [tenantSlug, email],
    );

    return rows.length > 0 ? { userId: rows[0].user_id, email: rows[0].email, passwordHash: rows[0].password_hash, tenantId: rows[0].tenant_id, role: rows[0].role } : null;
  }

  /**
   * Returns the login identity (not an operator) with this email, in any
   * tenant, through the SECURITY DEFINER function
   * app_find_tenant_user_identity, or null.
   */
  async findTenantUserIdentity(email: string): Promise<{ id: string; email: string; passwordHash: string } | null> {
    const rows = await callCrossTenantFunction<{ user_id: string; email: string; password_hash: string }>(this.dataSource, 'app_find_tenant_user_identity', [
      email,
    ]);

    return rows.length > 0 ? { id: rows[0].user_id, email: rows[0].email, passwordHash: rows[0].password_hash } : null;
  }

  /**
   * Creates a login identity and its membership in the current tenant,
   * inside the caller's transaction, through the SECURITY DEFINER function
   * app_create_tenant_user. Returns the user id and the membership's
   * creation time.
   */
  async insertTenantUser(manager: EntityManager, user: { email: string; passwordHash: string; role: TenantRole }): Promise<{ id: string; createdAt: Date }> {
    const rows: { user_id: string; created_at: Date }[] = await manager.query('SELECT * FROM app_create_tenant_user($1, $2, $3)', [
      user.email,
      user.passwordHash,
      user.role,
    ]);
    if (rows.length === 0) {
      throw new Error('app_create_tenant_user created no user: it must run in a tenant (RequestContext.runInTenant)');
    }

    return { id: rows[0].user_id, createdAt: rows[0].created_at };
  }

  /** Returns the operator with this email, or null. */
  async findOperatorLogin(email: string): Promise<LoginCandidate | null> {
    const rows = await callCrossTenantFunction<{ user_id: string; email: string; password_hash: string }>(this.dataSource, 'app_find_operator_login', [email]);

    return rows.length > 0 ? { userId: rows[0].user_id, email: rows[0].email, passwordHash: rows[0].password_hash, tenantId: null, role: null } : null;
  }

  /**
   * Replaces the password hash of a user whose password was just verified
   * against `currentHash`. Returns false when the hash changed meanwhile,
   * which leaves the newer hash in place.
   */
  async replacePasswordHash(userId: string, currentHash: string, newHash: string): Promise<boolean> {
    const [row] = await callCrossTenantFunction<{ result: boolean }>(this.dataSource, 'app_replace_password_hash', [userId, currentHash, newHash]);

    return row.result;
  }
}
