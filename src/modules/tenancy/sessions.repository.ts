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

  /** Revoke the user's live sessions in the connection's tenant; returns how many were live. */
  async revokeAllForUser(manager: EntityManager, userId: string, at: Date): Promise<number> {
    const [, revoked]: [unknown, number] = await manager.query(
      `UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2`,
      [userId, at],
    );

    return revoked;
  }

  /**
   * Starts a session of an operator, which has no tenant, through the
   * function app_start_operator_session, and deletes that operator's
   * sessions that ended more than a day ago, as deleteEndedForUser does for
   * a tenant's user. Returns the session id.
   */
  async startOperatorSession(session: { tokenHash: string; userId: string; expiresAt: Date }, now: Date): Promise<string> {
    const purgeBefore = new Date(now.getTime() - EXPIRED_SESSION_RETENTION_HOURS * 60 * 60 * 1000);
    const rows: { id: string }[] = await this.dataSource.query('SELECT id FROM app_start_operator_session($1, $2, $3, $4)', [
      session.userId,
      session.tokenHash,
      session.expiresAt,
      purgeBefore,
    ]);
    if (rows.length === 0) {
      throw new Error(`app_start_operator_session started no session: user ${session.userId} is not an operator`);
    }

    return rows[0].id;
  }

  /** Ends an operator's session through the function app_end_operator_session. */
  async endOperatorSession(id: string, at: Date): Promise<void> {
    await this.dataSource.query('SELECT app_end_operator_session($1, $2)', [id, at]);
  }

  /** Revoke every live session of an operator, inside the caller's transaction; returns how many were live. */
  async revokeOperatorSessions(manager: EntityManager, userId: string, at: Date): Promise<number> {
    const [row]: { revoked: number }[] = await manager.query('SELECT app_revoke_operator_sessions($1, $2) AS revoked', [userId, at]);

    return row.revoked;
  }

  /** Returns the tenants in which the user has a live session, through the function app_find_session_tenants. */
  async findSessionTenants(userId: string, now: Date): Promise<string[]> {
    const rows = await callCrossTenantFunction<{ result: string }>(this.dataSource, 'app_find_session_tenants', [userId, now]);

    return rows.map((row) => row.result);
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
