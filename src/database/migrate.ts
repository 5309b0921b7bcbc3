import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ConfigurationError, loadConfig } from '../config/app-config';
import { checkPostgres, describeStartupFailure } from '../startup-check';
import { dataSourceOptions } from './data-source';

/** Any constant works; it only has to be the same in every process that migrates. */
const MIGRATION_LOCK_KEY = 7_310_042_001;

/**
 * Create the database when it is missing, then apply pending migrations under
 * an advisory lock so that several processes starting at once migrate once.
 */
async function main(): Promise<void> {
  // Migrations touch no stored secret, so they run without APP_ENCRYPTION_KEY.
  const config = loadConfig(process.env, { requireEncryptionKey: false });
  // The server's own database, because the one DATABASE_URL names may not exist yet.
  const unreachable = await checkPostgres('DATABASE_URL', maintenanceDatabaseUrl(config.databaseUrl));
  if (unreachable) {
    console.error(describeStartupFailure(unreachable).message);
    process.exit(1);
  }
  await createDatabaseIfMissing(config.databaseUrl);

  const lockClient = new Client({ connectionString: config.databaseUrl });
  await lockClient.connect();
  try {
    await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const dataSource = new DataSource(dataSourceOptions(config.databaseUrl));
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      console.log(applied.length === 0 ? 'No pending migrations.' : `Applied ${applied.length} migration(s): ${applied.map((m) => m.name).join(', ')}`);
    } finally {
      await dataSource.destroy();
    }
  } finally {
    await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockClient.end();
  }
}

export async function createDatabaseIfMissing(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database) {
    throw new Error('DATABASE_URL names no database');
  }

  const admin = new Client({ connectionString: maintenanceDatabaseUrl(databaseUrl) });
  await admin.connect();
  try {
    const existing = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (existing.rowCount === 0) {
      try {
        await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
        console.log(`Created database ${database}.`);
      } catch (error) {
        // Another process created it between our check and our CREATE.
        if ((error as { code?: string }).code !== '42P04' && (error as { code?: string }).code !== '23505') {
          throw error;
        }
      }
    }
  } finally {
    await admin.end();
  }
}

/** Returns the URL of the same server's `postgres` database, where a missing database can be created. */
function maintenanceDatabaseUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';

  return url.toString();
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof ConfigurationError ? error.message : error);
    process.exit(1);
  });
}
