import { AppRoles } from '@app/common/app-roles';
import { DynamicModule, Module } from '@nestjs/common';

@Module({})
export class PaymentsModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: PaymentsModule,
      controllers: roles.api ? [] : [],
      providers: [],
    };
  }
}
