import { AppRoles } from '@app/common/app-roles';
import { DynamicModule, Module } from '@nestjs/common';
import { AdminUiController } from './admin-ui.controller';

/**
 * The tenant admin pages (sign-in, Settings → Billing, payments, invoices):
 * static HTML, CSS and ES modules that call the public HTTP API from the
 * browser. Only the api role serves them.
 */
@Module({})
export class AdminUiModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: AdminUiModule,
      controllers: roles.api ? [AdminUiController] : [],
    };
  }
}
