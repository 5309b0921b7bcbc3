import { CommonModule } from '@app/common/common.module';
import { OutboxEventEntity } from '@app/common/outbox/outbox-event.entity';
import { RateLimitStoreModule } from '@app/common/rate-limits/rate-limit-store';
import { producerRedisOptions } from '@app/common/queues/redis-connection';
import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CommandMeta } from 'nest-commander/src/constants';
import { ClsModule } from 'nestjs-cls';
import { APP_CONFIG, AppConfig, rateLimitKeyPrefix } from '../config/app-config';
import { scopedTypeOrmModule } from '../database/scoped-data-source';
import { cliActor } from './cli-actor';
import { StripeConnectionModule } from '../modules/stripe-connection/stripe-connection.module';
import { TenancyModule } from '../modules/tenancy/tenancy.module';
import { WebhooksModule } from '../modules/webhooks/webhooks.module';
import { QueuesRetryFailedCommand } from './queues-retry-failed.command';
import { QueuesStatsCommand } from './queues-stats.command';
import { SecretsReencryptCommand } from './secrets-reencrypt.command';
import { SessionsRevokeCommand } from './sessions-revoke.command';
import { TenantsCreateCommand } from './tenants-create.command';
import { TenantsLiveModeCommand } from './tenants-live-mode.command';
import { TokensCreateCommand } from './tokens-create.command';
import { TokensListCommand } from './tokens-list.command';
import { TokensRevokeCommand } from './tokens-revoke.command';
import { UsersCreateCommand } from './users-create.command';
import { WebhooksListCommand } from './webhooks-list.command';
import { WebhooksReplayCommand } from './webhooks-replay.command';
import { WebhooksShowCommand } from './webhooks-show.command';

/** The operator commands, each a nest-commander `@Command`. */
export const CLI_COMMANDS = [
  QueuesRetryFailedCommand,
  QueuesStatsCommand,
  SecretsReencryptCommand,
  SessionsRevokeCommand,
  TenantsCreateCommand,
  TenantsLiveModeCommand,
  TokensCreateCommand,
  TokensListCommand,
  TokensRevokeCommand,
  UsersCreateCommand,
  WebhooksListCommand,
  WebhooksReplayCommand,
  WebhooksShowCommand,
];

/**
 * Returns the names of the operator commands, read from their `@Command`
 * metadata. nest-commander exports its metadata key only from its
 * `src/constants` module, so a spec checks that every command has a name.
 */
export function cliCommandNames(): string[] {
  return CLI_COMMANDS.map((command) => (Reflect.getMetadata(CommandMeta, command) as { name: string } | undefined)?.name ?? '').filter(Boolean);
}

/** The validated configuration as APP_CONFIG, as the application provides it. */
@Global()
@Module({})
class CliConfigModule {
  static register(config: AppConfig): DynamicModule {
    return { module: CliConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}

/**
 * The ops CLI's module, with only what its commands need: the database, the
 * request context, the Tenancy context without its controllers or workers,
 * the StripeConnection state read, and the Webhooks context's inbox and queue
 * operations. It starts no HTTP server and no worker; its Redis connections
 * only produce and read jobs, and fail fast when Redis is away.
 */
@Module({})
export class CliModule {
  /** `connect: false` builds the module without connecting to the database, for printing help. */
  static register(config: AppConfig, { connect = true }: { connect?: boolean } = {}): DynamicModule {
    return {
      module: CliModule,
      imports: [
        CliConfigModule.register(config),
        ClsModule.forRoot({ global: true }),
        CommonModule,
        // AuthService's login limits need it; no command uses it, and it connects lazily.
        RateLimitStoreModule.register({ redisUrl: config.redisUrl, keyPrefix: rateLimitKeyPrefix(config) }),
        // tenants:live-mode reads the tenant's connection to refuse forbidding live mode while live keys are stored.
        StripeConnectionModule.forCli(),
        TenancyModule.forRoles({ api: false, worker: false }, { systemActorLabel: cliActor().label }),
        // A CLI run fails at once when the database is away instead of retrying for half a minute.
        scopedTypeOrmModule(config.databaseUrl, { retryAttempts: 0, manualInitialization: !connect }),
        // OutboxWriter writes this entity; in the application OutboxModule registers it.
        TypeOrmModule.forFeature([OutboxEventEntity]),
        BullModule.forRoot({ connection: producerRedisOptions(config.redisUrl), prefix: config.queuePrefix }),
        WebhooksModule.forCli(),
      ],
      providers: [...CLI_COMMANDS],
    };
  }
}
