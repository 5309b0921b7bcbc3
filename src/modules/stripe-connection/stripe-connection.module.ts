import { AppRoles } from '@app/common/app-roles';
import { SECRET_CIPHER, SecretCipher } from '@app/common/crypto/secret-cipher';
import { STRIPE_CONNECTION_FACADE, STRIPE_CONNECTION_STATE } from '@app/contracts/stripe-connection.contracts';
import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../../config/app-config';
import { StripeClientFactory } from './stripe-client.factory';
import { StripeConnectionOpsController } from './stripe-connection-ops.controller';
import { StripeConnectionStateReader } from './stripe-connection-state.reader';
import { StripeConnectionController } from './stripe-connection.controller';
import { StripeConnectionEntity } from './stripe-connection.entity';
import { StripeConnectionFacadeService } from './stripe-connection.facade';
import { StripeConnectionRepository } from './stripe-connection.repository';
import { StripeConnectionService } from './stripe-connection.service';
import { WebhookEndpointCache } from './webhook-endpoint.cache';
import { WebhookEndpointRegistrar } from './webhook-endpoint.registrar';
import { WebhookEndpointService } from './webhook-endpoint.service';

/**
 * StripeConnection: each tenant's keys (encrypted), mode, account, status and
 * webhook endpoint, and the per-tenant Stripe client factory. Global, so other
 * contexts inject STRIPE_CONNECTION_FACADE without importing this module.
 */
@Module({})
export class StripeConnectionModule {
  static forRoles(roles: AppRoles): DynamicModule {
    return {
      module: StripeConnectionModule,
      global: true,
      imports: [TypeOrmModule.forFeature([StripeConnectionEntity])],
      controllers: roles.api ? [StripeConnectionController, StripeConnectionOpsController] : [],
      providers: [
        { provide: SECRET_CIPHER, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new SecretCipher(config.encryptionKeys) },
        StripeClientFactory,
        StripeConnectionFacadeService,
        StripeConnectionRepository,
        StripeConnectionService,
        StripeConnectionStateReader,
        { provide: WebhookEndpointCache, useFactory: () => new WebhookEndpointCache() },
        WebhookEndpointRegistrar,
        WebhookEndpointService,
        { provide: STRIPE_CONNECTION_FACADE, useExisting: StripeConnectionFacadeService },
        { provide: STRIPE_CONNECTION_STATE, useExisting: StripeConnectionStateReader },
      ],
      exports: [STRIPE_CONNECTION_FACADE, STRIPE_CONNECTION_STATE],
    };
  }

  /** Only the connection state read, for the ops CLI, which may run without APP_ENCRYPTION_KEY. */
  static forCli(): DynamicModule {
    return {
      module: StripeConnectionModule,
      global: true,
      imports: [TypeOrmModule.forFeature([StripeConnectionEntity])],
      providers: [
        StripeConnectionRepository,
        StripeConnectionStateReader,
        { provide: WebhookEndpointCache, useFactory: () => new WebhookEndpointCache() },
        { provide: STRIPE_CONNECTION_STATE, useExisting: StripeConnectionStateReader },
      ],
      exports: [STRIPE_CONNECTION_STATE],
    };
  }
}
