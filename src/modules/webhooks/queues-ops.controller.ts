import { EmptyBodyPipe } from '@app/common/validation/empty-body.pipe';
import { Roles } from '@app/common/roles/roles';
import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCookieAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ALL_QUEUES } from '@app/common/queues/queue-names';
import { QueueCountsListResponse, RetryFailedJobsResponse } from './dto/queue-counts.response';
import { WebhooksAdminService } from './webhooks-admin.service';

/** The service's BullMQ queues for platform operators. */
@ApiTags('ops')
@ApiBearerAuth()
@ApiCookieAuth()
@Roles('operator')
@Controller('api/v1/ops/queues')
export class QueuesOpsController {
  constructor(private readonly admin: WebhooksAdminService) {}

  @Get()
  @ApiOperation({ summary: 'Job counts of each queue, and whether it is paused' })
  @ApiOkResponse({ type: QueueCountsListResponse })
  @ApiServiceUnavailableResponse({ description: 'service_unavailable: Redis is unavailable' })
  async list(): Promise<QueueCountsListResponse> {
    return { data: await this.admin.queueCounts() };
  }

  @Post(':queue/retry-failed')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: "Move a queue's failed jobs back to waiting, with their attempts reset" })
  @ApiParam({ name: 'queue', enum: ALL_QUEUES })
  @ApiOkResponse({ type: RetryFailedJobsResponse })
  @ApiNotFoundResponse({ description: 'not_found: no such queue' })
  @ApiServiceUnavailableResponse({ description: 'service_unavailable: Redis is unavailable' })
  retryFailed(@Param('queue') queue: string, @Body(EmptyBodyPipe) _body: undefined): Promise<RetryFailedJobsResponse> {
    return this.admin.retryFailedJobs(queue);
  }
}
