import { registerQueues } from '../queues/logged-queue';
import { InjectQueue } from '@nestjs/bullmq';
import { DynamicModule, Inject, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { AppRoles } from '../app-roles';
import { QUEUE_MAINTENANCE } from '../queues/queue-names';
import { PartitionMaintenanceProcessor } from './partition-maintenance.processor';
import { PartitionMaintenanceScheduler } from './partition-maintenance.scheduler';
import { PartitionMaintenanceService } from './partition-maintenance.service';
import { PARTITION_OWNER_DATA_SOURCE, PartitionMaintenanceOptions } from './partitions.options';

/** The partition jobs of the inbox and the outbox; they run in worker processes only. */
@Module({})
export class PartitionsModule implements OnApplicationShutdown {
  constructor(
    @InjectQueue(QUEUE_MAINTENANCE) private readonly queue: Queue,
    @Optional() @Inject(PARTITION_OWNER_DATA_SOURCE) private readonly ownerDataSource?: DataSource,
  ) {}

  /**
   * Build the module; `databaseUrl` connects as the owner of the partitioned tables.
   * Partition DDL needs that owner, and the service's own connections run as a
   * role that owns nothing, so the jobs get a two-connection pool without the role switch.
   */
  static forRoles(roles: AppRoles, options: { retentionDays: number; databaseUrl: string }): DynamicModule {
    return {
      module: PartitionsModule,
      imports: [registerQueues({ name: QUEUE_MAINTENANCE })],
      providers: roles.worker
        ? [
            { provide: PartitionMaintenanceOptions, useValue: new PartitionMaintenanceOptions(options.retentionDays) },
            {
              provide: PARTITION_OWNER_DATA_SOURCE,
              useFactory: () => new DataSource({ type: 'postgres', url: options.databaseUrl, extra: { max: 2, connectionTimeoutMillis: 5_000 } }).initialize(),
            },
            PartitionMaintenanceService,
            PartitionMaintenanceProcessor,
            PartitionMaintenanceScheduler,
          ]
        : [],
      exports: roles.worker ? [PartitionMaintenanceService] : [],
    };
  }


  async onApplicationShutdown(): Promise<void> {
    if (this.ownerDataSource?.isInitialized) {
      await this.ownerDataSource.destroy();
    }
  }
}
