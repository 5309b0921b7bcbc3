import type { TenantRole } from '@app/common/roles/roles';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { MembershipEntity } from './membership.entity';
import { UserEntity } from './user.entity';

/** Users and their memberships. Emails are passed in already normalised. */
@Injectable()
export class UsersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  findByEmail(email: string, isOperator: boolean, manager?: EntityManager): Promise<UserEntity | null> {
    return (manager ?? this.dataSource.manager).getRepository(UserEntity).findOneBy({ email, isOperator });
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.dataSource.getRepository(UserEntity).findOneBy({ id });
  }

  findMembership(tenantId: string, userId: string, manager?: EntityManager): Promise<MembershipEntity | null> {
    return (manager ?? this.dataSource.manager).getRepository(MembershipEntity).findOneBy({ tenantId, userId });
  }

  async insertUser(manager: EntityManager, user: { email: string; passwordHash: string; isOperator: boolean }): Promise<UserEntity> {
    const repository = manager.getRepository(UserEntity);

    return repository.save(repository.create(user));
  }

  async insertMembership(manager: EntityManager, membership: { tenantId: string; userId: string; role: TenantRole }): Promise<MembershipEntity> {
    const repository = manager.getRepository(MembershipEntity);

    return repository.save(repository.create(membership));
  }

  async updatePasswordHash(userId: string, passwordHash: string): Promise<void> {
    await this.dataSource.query(`UPDATE users SET password_hash = $2 WHERE id = $1`, [userId, passwordHash]);
  }
}
