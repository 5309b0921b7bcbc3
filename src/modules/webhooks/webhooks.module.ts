import { AppRoles } from '@app/common/app-roles';
import { DynamicModule, Module } from '@nestjs/common';

@Module({})
export class WebhooksModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: WebhooksModule,
      controllers: roles.api ? [] : [],
      providers: [],
    };
  }
}
