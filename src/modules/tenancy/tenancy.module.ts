import { AppRoles } from '@app/common/app-roles';
import { DynamicModule, Module } from '@nestjs/common';

@Module({})
export class TenancyModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: TenancyModule,
      controllers: roles.api ? [] : [],
      providers: [],
    };
  }
}
