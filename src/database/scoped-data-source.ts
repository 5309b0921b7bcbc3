import { RequestContext } from '@app/common/context/request-context';
import { APP_ROLE } from '@app/common/database/database-roles';
import { scopeConnections } from '@app/common/database/scoped-connections';
import { DynamicModule } from '@nestjs/common';
import { TypeOrmModule, TypeOrmModuleOptions } from '@nestjs/typeorm';
import { ClsServiceManager } from 'nestjs-cls';
import { DataSource, DataSourceOptions } from 'typeorm';
import { dataSourceOptions } from './data-source';

/**
 * Options of the service's own connections: those of the migration runner,
 * plus the startup option that switches every new connection to APP_ROLE,
 * whatever user DATABASE_URL names. Migrations keep running as that user.
 */
export function serviceDataSourceOptions(databaseUrl: string): DataSourceOptions {
  const options = dataSourceOptions(databaseUrl);

  return { ...options, extra: { ...options.extra, options: `-c role=${APP_ROLE}` } } as DataSourceOptions;
}

/**
 * Builds the service's TypeORM module. Its DataSource runs every query as
 * APP_ROLE, in the tenant of the request or job that runs it (see
 * scopeConnections), from before any provider can query.
 */
export function scopedTypeOrmModule(databaseUrl: string, overrides: Partial<TypeOrmModuleOptions> = {}): DynamicModule {
  return TypeOrmModule.forRootAsync({
    useFactory: () => ({ ...serviceDataSourceOptions(databaseUrl), autoLoadEntities: true, ...overrides }) as TypeOrmModuleOptions,
    dataSourceFactory: async (options) => {
      const dataSource = new DataSource(options as DataSourceOptions);
      // Left unconnected on request (the CLI printing its help), so the module starts without a database.
      if (!(options as TypeOrmModuleOptions | undefined)?.manualInitialization) {
        await dataSource.initialize();
      }
      const context = new RequestContext(ClsServiceManager.getClsService());
      scopeConnections(
        dataSource,
        () => context.databaseScope(),
        () => context.sharedConnection(),
      );

      return dataSource;
    },
  });
}
