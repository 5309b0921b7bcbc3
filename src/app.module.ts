import { AppRoles } from '@app/common/app-roles';
import { CommonModule } from '@app/common/common.module';
import { ProblemDetailsFilter } from '@app/common/errors/problem-details.filter';
import { IdempotencyModule } from '@app/common/idempotency/idempotency.module';
import { OutboxModule } from '@app/common/outbox/outbox.module';
import { PartitionsModule } from '@app/common/partitions/partitions.module';
import { RateLimitStoreModule } from '@app/common/rate-limits/rate-limit-store';
import { QueueLifecycleModule } from '@app/common/queues/queue-lifecycle.module';
import { configureWorkerConnection, producerRedisOptions } from '@app/common/queues/redis-connection';
import { createValidationPipe } from '@app/common/validation/validation.pipe';
import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { ClsModule } from 'nestjs-cls';
import { LoggerModule } from 'nestjs-pino';
import type { LogDestination } from '@app/common/logging/log-redaction';
import { AdminUiModule } from './admin-ui/admin-ui.module';
import { APP_CONFIG, AppConfig, rateLimitKeyPrefix } from './config/app-config';
import { scopedTypeOrmModule } from './database/scoped-data-source';
import { HealthModule } from './health/health.module';
import { JsonBodyInterceptor } from './http/json-body';
import { RateLimitsModule } from './http/rate-limits.module';
import { ObservabilityModule } from './observability/observability.module';
import { loggerParams } from './logging';
import { ShutdownLogModule, ShutdownStartLog } from './shutdown-log';
import { InvoicingModule } from './modules/invoicing/invoicing.module';
import { PaymentsModule } from './modules/payments/payments.module';
import { StripeConnectionModule } from './modules/stripe-connection/stripe-connection.module';
import { TenancyModule } from './modules/tenancy/tenancy.module';
import { WebhooksModule } from './modules/webhooks/webhooks.module';

/** Makes the validated configuration injectable everywhere as APP_CONFIG. */
@Global()
@Module({})
class AppConfigModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppConfigModule,
      imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ app: config })] })],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}

/**
 * The application for one process. `roles` decides which halves run: the api
 * role registers the HTTP controllers, the worker role the queue processors and
 * the outbox relay; every role serves /health and /metrics.
 */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, roles: AppRoles, logDestination?: LogDestination): DynamicModule {
    configureWorkerConnection(config.redisUrl);

    return {
      module: AppModule,
      imports: [
        // First, so that its shutdown hook runs last (see ShutdownFinishLog).
        ShutdownLogModule,
        AdminUiModule.forRoles(roles),
        AppConfigModule.register(config),
        BullModule.forRoot({ connection: producerRedisOptions(config.redisUrl), prefix: config.queuePrefix }),
        ClsModule.forRoot({ global: true, middleware: { mount: true, generateId: true } }),
        CommonModule,
        HealthModule,
        IdempotencyModule.forRoles(roles),
        InvoicingModule.forRoles(roles),
        LoggerModule.forRoot(loggerParams(config.logLevel, logDestination)),
        ObservabilityModule,
        OutboxModule.forRoles(roles),
        PartitionsModule.forRoles(roles, { retentionDays: config.partitionRetentionDays, databaseUrl: config.databaseUrl }),
        PaymentsModule.forRoles(roles),
        QueueLifecycleModule,
        RateLimitStoreModule.register({ redisUrl: config.redisUrl, keyPrefix: rateLimitKeyPrefix(config) }),
        StripeConnectionModule.forRoles(roles),
        TenancyModule.forRoles(roles),
        // After TenancyModule: Nest runs global guards in the order of their modules, and the API limit
        // counts only requests that the authentication guard let through.
        RateLimitsModule,
        scopedTypeOrmModule(config.serviceDatabaseUrl),
        WebhooksModule.forRoles(roles),
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        { provide: APP_INTERCEPTOR, useClass: JsonBodyInterceptor },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        ShutdownStartLog,
      ],
    };
  }
}
