import { AppRoles } from '@app/common/app-roles';
import { DynamicModule, Module } from '@nestjs/common';

@Module({})
export class InvoicingModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: InvoicingModule,
      controllers: roles.api ? [] : [],
      providers: [],
    };
  }
}
