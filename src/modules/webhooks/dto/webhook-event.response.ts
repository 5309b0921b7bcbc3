import { WEBHOOK_EVENT_STATUSES, WebhookEventDetailView, WebhookEventStatusName, WebhookEventView } from '@app/contracts/webhooks.contracts';
import { ApiProperty } from '@nestjs/swagger';

/** An inbox row as operators see it. */
export class WebhookEventResponse implements WebhookEventView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  tenantId!: string;

  @ApiProperty({ example: 'evt_1Nv0FGQ9RKHgCVdK' })
  stripeEventId!: string;

  @ApiProperty({ example: 'payment_intent.succeeded' })
  type!: string;

  @ApiProperty()
  livemode!: boolean;

  @ApiProperty({ enum: WEBHOOK_EVENT_STATUSES })
  status!: WebhookEventStatusName;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Why the event was ignored or failed: mode_mismatch, foreign_object, unhandled_type, unknown_object, tenant_disconnected, or the failure\'s code',
    example: 'unknown_object',
  })
  reason!: string | null;

  @ApiProperty({ description: 'Processing attempts so far, replays included' })
  attempts!: number;

  @ApiProperty({ type: String, nullable: true, description: 'The last error, without secrets' })
  lastError!: string | null;

  @ApiProperty({ enum: ['endpoint', 'platform'] })
  verifiedBy!: 'endpoint' | 'platform';

  @ApiProperty({ format: 'date-time' })
  receivedAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  processedAt!: string | null;
}

export class WebhookEventDetailResponse extends WebhookEventResponse implements WebhookEventDetailView {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The event as received, as a JSON object' })
  payload!: Record<string, unknown>;
}

export class WebhookEventPageResponse {
  @ApiProperty({ type: [WebhookEventResponse] })
  data!: WebhookEventResponse[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class WebhookReplayResponse {
  @ApiProperty({ description: 'Events put back on the queue' })
  replayed!: number;

  @ApiProperty({ required: false, description: 'Bulk replay only: matching events left for another call' })
  remaining?: number;
}

export class WebhookReplayDryRunResponse {
  @ApiProperty({ description: 'Events a replay with the same filter would replay now' })
  wouldReplay!: number;
}
