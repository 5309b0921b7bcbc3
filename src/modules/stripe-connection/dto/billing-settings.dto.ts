import { ApiProperty } from '@nestjs/swagger';

export class StripeLastErrorDto {
  @ApiProperty({ example: 'stripe_keys_invalid' })
  code!: string;

  @ApiProperty()
  message!: string;

  @ApiProperty({ format: 'date-time' })
  at!: string;
}

export class StripeSettingsDto {
  @ApiProperty({ enum: ['not_connected', 'connected', 'error'] })
  status!: 'not_connected' | 'connected' | 'error';

  @ApiProperty({ enum: ['test', 'live'], nullable: true, type: String })
  mode!: 'test' | 'live' | null;

  @ApiProperty({ nullable: true, type: String, description: 'Masked: prefix, …, last four characters', example: 'pk_test_…8yR8' })
  publishableKey!: string | null;

  @ApiProperty({ nullable: true, type: String, description: 'Masked: prefix, …, last four characters', example: 'sk_test_…gCcv' })
  secretKey!: string | null;

  @ApiProperty({ nullable: true, type: String, example: 'acct_1Nv0FGQ9RKHgCVdK' })
  accountId!: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  connectedAt!: string | null;

  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  lastVerifiedAt!: string | null;

  @ApiProperty({ nullable: true, type: StripeLastErrorDto })
  lastError!: StripeLastErrorDto | null;
}

export class WebhookSettingsDto {
  @ApiProperty({ example: 'https://billing.example.com/webhooks/stripe/wh_3kTqV9sXnR2mLp8aZc4Y' })
  url!: string;

  @ApiProperty({ enum: ['automatic', 'manual'], nullable: true, type: String })
  registration!: 'automatic' | 'manual' | null;

  @ApiProperty({ enum: ['endpoint', 'platform'] })
  signingSecret!: 'endpoint' | 'platform';

  @ApiProperty({ nullable: true, type: String, format: 'date-time' })
  lastEventAt!: string | null;
}

/** The Settings → Billing page: the Stripe connection, the webhook endpoint and the live-mode flag. */
export class BillingSettingsDto {
  @ApiProperty({ type: StripeSettingsDto })
  stripe!: StripeSettingsDto;

  @ApiProperty({ type: WebhookSettingsDto })
  webhook!: WebhookSettingsDto;

  @ApiProperty()
  liveModeAllowed!: boolean;
}
