import { EmptyBodyPipe } from '@app/common/validation/empty-body.pipe';
import { Roles } from '@app/common/roles/roles';
import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCookieAuth,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { ListWebhookEventsQuery } from './dto/list-webhook-events.query';
import { ReplayWebhookEventsDto } from './dto/replay-webhook-events.dto';
import {
  WebhookEventDetailResponse,
  WebhookEventPageResponse,
  WebhookReplayDryRunResponse,
  WebhookReplayResponse,
} from './dto/webhook-event.response';
import { WebhooksAdminService } from './webhooks-admin.service';

/**
 * The webhook inbox for platform operators: what arrived, what failed and
 * why, and replay. WebhooksAdminService picks the tenant each route runs in.
 */
@ApiTags('ops')
@ApiBearerAuth()
@ApiCookieAuth()
@Roles('operator')
@Controller('api/v1/ops/webhook-events')
export class WebhookEventsOpsController {
  constructor(private readonly admin: WebhooksAdminService) {}

  @Get()
  @ApiOperation({ summary: 'List inbox events across tenants, newest first' })
  @ApiOkResponse({ type: WebhookEventPageResponse })
  @ApiBadRequestResponse({ description: 'validation_failed: a filter is invalid' })
  list(@Query() query: ListWebhookEventsQuery): Promise<WebhookEventPageResponse> {
    return this.admin.listEvents({
      tenantId: query.tenantId,
      status: query.status,
      type: query.type,
      since: query.since === undefined ? undefined : new Date(query.since),
      until: query.until === undefined ? undefined : new Date(query.until),
      limit: query.limit,
      cursor: query.cursor,
    });
  }

  @Post('replay')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Replay every finished event a filter matches, oldest first (at most 1,000 per call)',
    description: 'With dryRun, counts the events instead. Each replay is written to its tenant\'s audit log as webhook.replayed.',
  })
  @ApiExtraModels(WebhookReplayResponse, WebhookReplayDryRunResponse)
  @ApiOkResponse({ schema: { oneOf: [{ $ref: getSchemaPath(WebhookReplayResponse) }, { $ref: getSchemaPath(WebhookReplayDryRunResponse) }] } })
  @ApiBadRequestResponse({ description: 'validation_failed: status is not failed, ignored or processed, or a filter is invalid' })
  @ApiServiceUnavailableResponse({ description: 'service_unavailable: Redis did not take a replay job' })
  replayMany(@Body() body: ReplayWebhookEventsDto): Promise<WebhookReplayResponse | WebhookReplayDryRunResponse> {
    return this.admin.replayEvents({
      tenantId: body.tenantId,
      status: body.status,
      type: body.type,
      since: body.since === undefined ? undefined : new Date(body.since),
      until: body.until === undefined ? undefined : new Date(body.until),
      dryRun: body.dryRun,
    });
  }

  @Get(':id')
  @ApiOperation({ summary: 'Show one inbox event with its payload' })
  @ApiOkResponse({ type: WebhookEventDetailResponse })
  @ApiNotFoundResponse({ description: 'not_found: no such event' })
  show(@Param('id') id: string): Promise<WebhookEventDetailResponse> {
    return this.admin.getEvent(id);
  }

  @Post(':id/replay')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Run a stored event again through the worker',
    description: 'Nothing is posted to the public endpoint and no signature is checked again. Written to the tenant\'s audit log as webhook.replayed.',
  })
  @ApiOkResponse({ type: WebhookReplayResponse })
  @ApiNotFoundResponse({ description: 'not_found: no such event' })
  @ApiConflictResponse({ description: 'invalid_state: the event is still received or processing' })
  @ApiServiceUnavailableResponse({ description: 'service_unavailable: Redis did not take the job; the sweeper adds it later' })
  replayOne(@Param('id') id: string, @Body(EmptyBodyPipe) _body: undefined): Promise<WebhookReplayResponse> {
    return this.admin.replayEvent(id);
  }
}
