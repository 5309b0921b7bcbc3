import { INSTANT_MESSAGE, INSTANT_WITH_OFFSET } from '@app/common/time/instant';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsISO8601, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';

/** The finished statuses a bulk replay may select. */
export const BULK_REPLAY_STATUSES = ['failed', 'ignored', 'processed'] as const;

export class ReplayWebhookEventsDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only this tenant; all tenants when absent' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;

  @ApiProperty({ enum: BULK_REPLAY_STATUSES, example: 'failed' })
  @IsIn(BULK_REPLAY_STATUSES)
  status!: (typeof BULK_REPLAY_STATUSES)[number];

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

  @ApiPropertyOptional({ description: 'Count the events a replay would run, and replay none' })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}
