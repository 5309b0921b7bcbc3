import { ALL_QUEUES } from '@app/common/queues/queue-names';
import { QueueCountsView } from '@app/contracts/webhooks.contracts';
import { ApiProperty } from '@nestjs/swagger';

export class QueueCountsResponse implements QueueCountsView {
  @ApiProperty({ enum: ALL_QUEUES })
  name!: string;

  @ApiProperty({ description: 'Waiting jobs, prioritized ones included' })
  waiting!: number;

  @ApiProperty()
  active!: number;

  @ApiProperty({ description: 'Jobs waiting for a backoff or a delay' })
  delayed!: number;

  @ApiProperty({ description: 'Failed jobs, kept 14 days for replay' })
  failed!: number;

  @ApiProperty({ description: 'Completed jobs, kept one day (at most 10,000)' })
  completed!: number;

  @ApiProperty()
  paused!: boolean;
}

export class QueueCountsListResponse {
  @ApiProperty({ type: [QueueCountsResponse] })
  data!: QueueCountsResponse[];
}

export class RetryFailedJobsResponse {
  @ApiProperty({ description: 'Failed jobs moved back to waiting with their attempts reset' })
  retried!: number;
}
