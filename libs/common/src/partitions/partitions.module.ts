import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { DynamicModule, Logger, Module, OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AppRoles } from '../app-roles';
import { RepeatedErrorLog } from '../logging/repeated-error-log';
import { QUEUE_MAINTENANCE } from '../queues/queue-names';
import { PartitionMaintenanceProcessor } from './partition-maintenance.processor';
import { PartitionMaintenanceScheduler } from './partition-maintenance.scheduler';
import { PartitionMaintenanceService } from './partition-maintenance.service';
import { PartitionMaintenanceOptions } from './partitions.options';

/** The partition jobs of the inbox and the outbox; they run in worker processes only. */
@Module({})
export class PartitionsModule implements OnModuleInit {
  private readonly logger = new Logger(PartitionsModule.name);

  constructor(@InjectQueue(QUEUE_MAINTENANCE) private readonly queue: Queue) {}

  static forRoles(roles: AppRoles, options: { retentionDays: number }): DynamicModule {
    return {
      module: PartitionsModule,
      imports: [BullModule.registerQueue({ name: QUEUE_MAINTENANCE })],
      providers: roles.worker
        ? [
            { provide: PartitionMaintenanceOptions, useValue: new PartitionMaintenanceOptions(options.retentionDays) },
            PartitionMaintenanceService,
            PartitionMaintenanceProcessor,
            PartitionMaintenanceScheduler,
          ]
        : [],
      exports: roles.worker ? [PartitionMaintenanceService] : [],
    };
  }

  onModuleInit(): void {
    const errors = new RepeatedErrorLog(this.logger, 'maintenance queue connection error');
    this.queue.on('error', (error) => errors.record(error));
  }
}
