import { AppRoles } from '@app/common/app-roles';
import { DynamicModule, Module } from '@nestjs/common';

@Module({})
export class StripeConnectionModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: StripeConnectionModule,
      controllers: roles.api ? [] : [],
      providers: [],
    };
  }
}
