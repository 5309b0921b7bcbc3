import { SECRET_CIPHER, SecretCipher } from '@app/common/crypto/secret-cipher';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { endpointSecretAssociatedData, secretKeyAssociatedData } from './connection-secrets';

/** One encrypted secret: its ciphertext and key-id columns, and the associated data it was encrypted with. */
interface EncryptedColumn {
  name: string;
  ciphertextColumn: string;
  keyIdColumn: string;
  associatedData: (tenantId: string) => string;
}

interface EncryptedTable {
  table: string;
  columns: EncryptedColumn[];
}

/**
 * Every column that stores a secret encrypted with APP_ENCRYPTION_KEY. A new
 * encrypted column must be added here, or re-encryption leaves it under the
 * old key and removing that key breaks it.
 */
export const ENCRYPTED_TABLES: EncryptedTable[] = [
  {
    table: 'stripe_connections',
    columns: [
      { name: 'secret_key', ciphertextColumn: 'secret_key_ciphertext', keyIdColumn: 'secret_key_key_id', associatedData: secretKeyAssociatedData },
      { name: 'endpoint_secret', ciphertextColumn: 'endpoint_secret_ciphertext', keyIdColumn: 'endpoint_secret_key_id', associatedData: endpointSecretAssociatedData },
      {
        name: 'retired_endpoint_secret',
        ciphertextColumn: 'retired_endpoint_secret_ciphertext',
        keyIdColumn: 'retired_endpoint_secret_key_id',
        associatedData: endpointSecretAssociatedData,
      },
    ],
  },
];

export interface ReencryptionOptions {
  /** Rows locked and rewritten per transaction. */
  batchSize: number;
  /** Stop after this many batches in all (to spread the work over several runs); unlimited when undefined. */
  maxBatches?: number;
  /** Called after every batch with the running counts of its table. */
  onProgress?: (progress: TableProgress) => void;
}

export interface TableProgress {
  table: string;
  batches: number;
  /** Secrets rewritten under the newest key. */
  reencrypted: number;
  /** Secrets changed by another writer between the read and the write; they were left as that writer stored them. */
  conflicts: number;
  /** Secrets that could not be decrypted, usually because their key is no longer in APP_ENCRYPTION_KEY. */
  failed: number;
}

export interface ReencryptionSummary {
  keyId: string;
  tables: TableProgress[];
  /** False when maxBatches stopped the run before every table was done. */
  finished: boolean;
  /** Secrets still under an older key, per table, counted after the run. */
  remaining: Record<string, number>;
}

type Row = Record<string, string | null> & { id: string; tenant_id: string };

/** The tenants to work through, and how to run work in one of them (as the app role, in its scope). */
export interface TenantScopes {
  tenantIds: AsyncIterable<string>;
  runInTenant<T>(tenantId: string, work: () => Promise<T>): Promise<T>;
}

/**
 * Re-encrypts every stored secret under the newest key (the first of
 * APP_ENCRYPTION_KEY) while the service keeps running, one tenant at a time
 * in that tenant's scope. Each batch is one short
 * transaction that locks its rows with FOR UPDATE, the same lock the service
 * takes before it writes a connection. So a tenant that changes its keys at
 * the same time either commits first (the batch then reads the new secret,
 * already under the newest key, and skips it) or waits for the batch. Every
 * write also compares the ciphertext it read, so a row changed in between is
 * never overwritten. Rows already under the newest key are never selected,
 * which makes a rerun after a crash finish only the rest.
 */
@Injectable()
export class SecretReencryptionService {
  private readonly logger = new Logger(SecretReencryptionService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(SECRET_CIPHER) private readonly cipher: SecretCipher,
  ) {}

  /**
   * Works through the tenants of `scopes` in turn. A batch that finds no row
   * under an older key does not count against `maxBatches`, so a rerun gets
   * past the tenants an earlier run finished.
   */
  async reencryptAll(options: ReencryptionOptions, scopes: TenantScopes): Promise<ReencryptionSummary> {
    const keyId = this.cipher.currentKeyId;
    const tables: TableProgress[] = ENCRYPTED_TABLES.map((table) => ({ table: table.table, batches: 0, reencrypted: 0, conflicts: 0, failed: 0 }));
    const remaining: Record<string, number> = Object.fromEntries(ENCRYPTED_TABLES.map((table) => [table.table, 0]));
    const budget = { batchesLeft: options.maxBatches ?? Number.POSITIVE_INFINITY, finished: true };

    for await (const tenantId of scopes.tenantIds) {
      await scopes.runInTenant(tenantId, async () => {
        for (const [index, table] of ENCRYPTED_TABLES.entries()) {
          if (budget.finished) {
            await this.reencryptTable(table, keyId, options, tables[index], budget);
          }
        }

        for (const [table, count] of Object.entries(await this.countRemaining(keyId))) {
          remaining[table] += count;
        }
      });
    }

    return { keyId, tables, finished: budget.finished, remaining };
  }

  /** Counts, per table, the secrets in the current scope that are not yet under the key with id `keyId`. */
  async countRemaining(keyId: string): Promise<Record<string, number>> {
    const remaining: Record<string, number> = {};
    for (const table of ENCRYPTED_TABLES) {
      const counts = table.columns.map((column) => `count(*) FILTER (WHERE ${column.keyIdColumn} <> $1)`).join(' + ');
      const [row] = (await this.dataSource.query(`SELECT ${counts} AS remaining FROM ${table.table}`, [keyId])) as { remaining: string }[];
      remaining[table.table] = Number(row.remaining);
    }

    return remaining;
  }

  /** Re-encrypts the table's rows in the current scope, batch by batch, until none is left or the batch budget is spent. */
  private async reencryptTable(
    table: EncryptedTable,
    keyId: string,
    options: ReencryptionOptions,
    progress: TableProgress,
    budget: { batchesLeft: number; finished: boolean },
  ): Promise<void> {
    let afterId: string | null = null;
    while (true) {
      const mayWrite = budget.batchesLeft > 0;
      const batch = await this.dataSource.transaction((manager) => this.reencryptBatch(manager, table, keyId, afterId, options.batchSize, progress, mayWrite));
      if (batch.rows === 0) {
        return;
      }
      if (!mayWrite) {
        budget.finished = false;

        return;
      }

      budget.batchesLeft--;
      progress.batches++;
      options.onProgress?.({ ...progress });
      if (batch.rows < options.batchSize) {
        return;
      }
      afterId = batch.lastId;
    }
  }

  private async reencryptBatch(
    manager: EntityManager,
    table: EncryptedTable,
    keyId: string,
    afterId: string | null,
    batchSize: number,
    progress: TableProgress,
    mayWrite: boolean,
  ): Promise<{ rows: number; lastId: string | null }> {
    const selected = table.columns.flatMap((column) => [column.ciphertextColumn, column.keyIdColumn]).join(', ');
    const stale = table.columns.map((column) => `${column.keyIdColumn} <> $1`).join(' OR ');
    // ORDER BY id with FOR UPDATE: PostgreSQL re-checks the WHERE clause on a row
    // that a concurrent transaction changed, so a row rewritten under the newest
    // key while this batch waited for its lock is skipped.
    const rows = (await manager.query(
      `SELECT id, tenant_id, ${selected} FROM ${table.table}
        WHERE (${stale}) AND ($2::uuid IS NULL OR id > $2::uuid)
        ORDER BY id LIMIT $3 FOR UPDATE`,
      [keyId, afterId, batchSize],
    )) as Row[];
    if (!mayWrite) {
      return { rows: rows.length, lastId: null };
    }

    for (const row of rows) {
      for (const column of table.columns) {
        await this.reencryptColumn(manager, table.table, column, row, keyId, progress);
      }
    }

    return { rows: rows.length, lastId: rows.length > 0 ? rows[rows.length - 1].id : null };
  }

  private async reencryptColumn(manager: EntityManager, table: string, column: EncryptedColumn, row: Row, keyId: string, progress: TableProgress): Promise<void> {
    const oldKeyId = row[column.keyIdColumn];
    const oldCiphertext = row[column.ciphertextColumn];
    if (oldKeyId === null || oldCiphertext === null || oldKeyId === keyId) {
      return;
    }

    const associatedData = column.associatedData(row.tenant_id);
    let plaintext: string;
    try {
      plaintext = this.cipher.decrypt({ keyId: oldKeyId, ciphertext: oldCiphertext }, associatedData);
    } catch (error) {
      progress.failed++;
      // The message names the key id only; neither the ciphertext nor any key material is logged.
      this.logger.error({ table, rowId: row.id, tenantId: row.tenant_id, column: column.name, encryptionKeyId: oldKeyId, err: { message: (error as Error).message } }, 'Secret could not be decrypted; it stays under its old key');

      return;
    }

    const encrypted = this.cipher.encrypt(plaintext, associatedData);
    const result = (await manager.query(
      `UPDATE ${table} SET ${column.ciphertextColumn} = $1, ${column.keyIdColumn} = $2
        WHERE id = $3 AND ${column.ciphertextColumn} = $4 AND ${column.keyIdColumn} = $5`,
      [encrypted.ciphertext, encrypted.keyId, row.id, oldCiphertext, oldKeyId],
    )) as [unknown[], number];

    if (result[1] === 1) {
      progress.reencrypted++;
    } else {
      progress.conflicts++;
    }
  }
}
