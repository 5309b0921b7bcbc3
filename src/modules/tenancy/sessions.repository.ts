import { callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import type { Role } from '@app/common/roles/roles';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { SessionEntity } from './session.entity';

/** How long an expired session row is kept before a later login of its user deletes it. */
const EXPIRED_SESSION_RETENTION_HOURS = 24;

export interface ActiveSession {
  id: string;
  userId: string;
  tenantId: string | null;
  role: Role;
  email: string;
}

@Injectable()
export class SessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(session: { tokenHash: string; userId: string; tenantId: string | null; role: Role; expiresAt: Date }): Promise<SessionEntity> {
    const repository = this.dataSource.getRepository(SessionEntity);

    return repository.save(repository.create({ ...session, revokedAt: null }));
  }

  /**
   * Finds the unrevoked, unexpired session with this digest and its user's
   * email, in any tenant, through the reviewed function app_find_active_session:
   * the cookie is how a browser request finds its tenant.
   */
  async findActiveByHash(tokenHash: string, now: Date): Promise<ActiveSession | null> {
    const rows = await callCrossTenantFunction<{ id: string; user_id: string; tenant_id: string | null; role: Role; email: string }>(this.dataSource, 'app_find_active_session', [
      tokenHash,
      now,
    ]);
    if (rows.length === 0) {
      return null;
    }

    const [row] = rows;

    return { id: row.id, userId: row.user_id, tenantId: row.tenant_id, role: row.role, email: row.email };
  }

  async revoke(id: string, at: Date): Promise<void> {
    await this.dataSource.query(`UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, [id, at]);
  }

  /** Revoke every live session of the user; returns how many were live. */
  /** Revoke the user's live sessions and return how many each tenant had; operator sessions count under a null tenant. */
  async revokeAllForUser(manager: EntityManager, userId: string, at: Date): Promise<{ tenantId: string | null; revoked: number }[]> {
    const rows: { tenant_id: string | null; revoked: number }[] = await manager.query(
      `WITH revoked AS (
         UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING tenant_id
       )
       SELECT tenant_id, count(*)::int AS revoked FROM revoked GROUP BY tenant_id ORDER BY tenant_id NULLS FIRST`,
      [userId, at],
    );

    return rows.map((row) => ({ tenantId: row.tenant_id, revoked: row.revoked }));
  }

  /** Delete the user's sessions that ended more than a day ago; called at login so the table stays small without a job. */
  async deleteEndedForUser(userId: string, now: Date): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM sessions
        WHERE user_id = $1 AND coalesce(revoked_at, expires_at) < $2::timestamptz - make_interval(hours => $3)`,
      [userId, now, EXPIRED_SESSION_RETENTION_HOURS],
    );
  }
}
