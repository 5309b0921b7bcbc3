import { join } from 'node:path';
import { DataSourceOptions } from 'typeorm';

/**
 * Connection options shared by the application and the migration runner.
 * synchronize is never on: the schema changes only through reviewed migrations.
 */
export function dataSourceOptions(databaseUrl: string): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    synchronize: false,
    migrationsRun: false,
    migrations: [join(__dirname, '..', '..', 'migrations', '*.{js,ts}')],
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    extra: {
      max: 20,
      connectionTimeoutMillis: 5_000,
      // A request must fail with 503 rather than hang when PostgreSQL is away.
      query_timeout: 30_000,
    },
  };
}
