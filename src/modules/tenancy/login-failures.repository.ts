import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface RecentFailures {
  count: number;
  /** The oldest failure still inside the window, or null when there is none. */
  oldest: Date | null;
}

/** Failed logins per account key, for RATE_LIMIT_LOGIN. Every new failure deletes the rows of all keys that have left the window. */
@Injectable()
export class LoginFailuresRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async countRecent(accountKey: string, since: Date): Promise<RecentFailures> {
    const rows: { count: string; oldest: Date | null }[] = await this.dataSource.query(
      `SELECT count(*) AS count, min(failed_at) AS oldest FROM login_failures WHERE account_key = $1 AND failed_at > $2`,
      [accountKey, since],
    );

    return { count: Number(rows[0].count), oldest: rows[0].oldest };
  }

  async record(accountKey: string, at: Date, windowStart: Date): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(`DELETE FROM login_failures WHERE failed_at <= $1`, [windowStart]);
      await manager.query(`INSERT INTO login_failures (account_key, failed_at) VALUES ($1, $2)`, [accountKey, at]);
    });
  }

  async clear(accountKey: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM login_failures WHERE account_key = $1`, [accountKey]);
  }
}
