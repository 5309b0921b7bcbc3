import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { RepeatedErrorLog } from '../logging/repeated-error-log';
import { recordCompletedJob, recordFailedJob } from '../metrics/job-metrics';
import { JOB_CREATE_PARTITIONS, JOB_DROP_EXPIRED_PARTITIONS, QUEUE_MAINTENANCE } from '../queues/queue-names';
import { WORKER_CONNECTION } from '../queues/redis-connection';
import { PartitionMaintenanceService } from './partition-maintenance.service';
import { PartitionMaintenanceOptions } from './partitions.options';

/** Runs the maintenance queue's jobs, one at a time per worker process. */
@Processor(QUEUE_MAINTENANCE, { concurrency: 1, connection: WORKER_CONNECTION })
export class PartitionMaintenanceProcessor extends WorkerHost {
  private readonly logger = new Logger(PartitionMaintenanceProcessor.name);
  private readonly workerErrors = new RepeatedErrorLog(this.logger, 'maintenance worker connection error');

  constructor(
    private readonly maintenance: PartitionMaintenanceService,
    private readonly options: PartitionMaintenanceOptions,
  ) {
    super();
  }

  async process(job: Job): Promise<unknown> {
    if (job.name === JOB_CREATE_PARTITIONS) {
      return this.maintenance.ensurePartitions();
    }
    if (job.name === JOB_DROP_EXPIRED_PARTITIONS) {
      return this.maintenance.dropExpired(this.options.retentionDays);
    }

    throw new UnrecoverableError(`Unknown job name "${job.name}" on the ${QUEUE_MAINTENANCE} queue`);
  }

  @OnWorkerEvent('error')
  onWorkerError(error: Error): void {
    this.workerErrors.record(error);
  }

  @OnWorkerEvent('completed')
  onJobCompleted(job: Job): void {
    recordCompletedJob(QUEUE_MAINTENANCE, job);
  }

  @OnWorkerEvent('failed')
  onJobFailed(job: Job | undefined, error: Error): void {
    recordFailedJob(QUEUE_MAINTENANCE, job, error);
  }
}
