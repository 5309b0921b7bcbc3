import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppRoles } from '../app-roles';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyPurger } from './idempotency.purger';
import { IdempotencyService } from './idempotency.service';

/**
 * Global, so a route of any context can use `@Idempotent()` and a service can
 * read `IdempotencyService.activeKey()`. Worker processes purge expired keys.
 */
@Global()
@Module({})
export class IdempotencyModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: IdempotencyModule,
      providers: [IdempotencyInterceptor, IdempotencyService, ...(roles.worker ? [IdempotencyPurger] : [])],
      exports: [IdempotencyInterceptor, IdempotencyService],
    };
  }
}
