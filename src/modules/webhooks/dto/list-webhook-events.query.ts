import { PageQuery } from '@app/common/pagination/page-query';
import { INSTANT_MESSAGE, INSTANT_WITH_OFFSET } from '@app/common/time/instant';
import { WEBHOOK_EVENT_STATUSES, WebhookEventStatusName } from '@app/contracts/webhooks.contracts';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';

export class ListWebhookEventsQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;

  @ApiPropertyOptional({ enum: WEBHOOK_EVENT_STATUSES })
  @IsOptional()
  @IsIn(WEBHOOK_EVENT_STATUSES)
  status?: WebhookEventStatusName;

  @ApiPropertyOptional({ example: 'payment_intent.succeeded' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  type?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Received at or after this time' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: INSTANT_MESSAGE })
  @Matches(INSTANT_WITH_OFFSET, { message: INSTANT_MESSAGE })
  since?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Received before this time' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: INSTANT_MESSAGE })
  @Matches(INSTANT_WITH_OFFSET, { message: INSTANT_MESSAGE })
  until?: string;
}
