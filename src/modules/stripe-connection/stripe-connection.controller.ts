import { EmptyBodyPipe } from '@app/common/validation/empty-body.pipe';
import { RequestContext } from '@app/common/context/request-context';
import { Roles } from '@app/common/roles/roles';
import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Post, Put } from '@nestjs/common';
import {
  ApiBadGatewayResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { BillingSettingsDto } from './dto/billing-settings.dto';
import { StripeKeysDto } from './dto/stripe-keys.dto';
import { StripeConnectionService } from './stripe-connection.service';

/** Settings → Billing: the tenant's Stripe connection and webhook endpoint. */
@ApiTags('settings')
@ApiBearerAuth()
@Controller('api/v1/settings/billing')
export class StripeConnectionController {
  constructor(
    private readonly context: RequestContext,
    private readonly service: StripeConnectionService,
  ) {}

  @Get()
  @Roles('owner', 'admin', 'staff')
  @ApiOperation({ summary: 'Show the Stripe connection (keys masked), the webhook URL and whether live mode is allowed' })
  @ApiOkResponse({ type: BillingSettingsDto })
  getSettings(): Promise<BillingSettingsDto> {
    return this.service.getSettings(this.context.requireTenantId());
  }

  @Post('stripe')
  @HttpCode(HttpStatus.CREATED)
  @Roles('owner', 'admin')
  @ApiOperation({ summary: 'Connect Stripe with a publishable and a secret (or restricted) key' })
  @ApiCreatedResponse({ type: BillingSettingsDto })
  @ApiBadRequestResponse({ description: 'validation_failed: a key is malformed (the key is never echoed)' })
  @ApiUnprocessableEntityResponse({ description: 'stripe_mode_mismatch, stripe_keys_invalid, stripe_permission_missing' })
  @ApiConflictResponse({ description: 'live_mode_not_allowed, invalid_state (already connected or in error), stripe_account_in_use' })
  @ApiBadGatewayResponse({ description: 'stripe_unavailable' })
  connect(@Body() body: StripeKeysDto): Promise<BillingSettingsDto> {
    return this.service.connect(this.context.requireTenantId(), body);
  }

  @Put('stripe/keys')
  @HttpCode(HttpStatus.OK)
  @Roles('owner', 'admin')
  @ApiOperation({ summary: 'Replace the keys with keys of the same Stripe account, also the way out of `error`' })
  @ApiOkResponse({ type: BillingSettingsDto })
  @ApiBadRequestResponse({ description: 'validation_failed: a key is malformed (the key is never echoed)' })
  @ApiConflictResponse({ description: 'stripe_not_connected, live_mode_not_allowed, stripe_account_mismatch, stripe_account_in_use' })
  @ApiUnprocessableEntityResponse({ description: 'stripe_mode_mismatch, stripe_keys_invalid, stripe_permission_missing' })
  @ApiBadGatewayResponse({ description: 'stripe_unavailable' })
  rotateKeys(@Body() body: StripeKeysDto): Promise<BillingSettingsDto> {
    return this.service.rotateKeys(this.context.requireTenantId(), body);
  }

  @Post('stripe/verify')
  @HttpCode(HttpStatus.OK)
  @Roles('owner', 'admin')
  @ApiOperation({ summary: 'Check the stored key against Stripe: `connected` with a fresh lastVerifiedAt, or `error` with lastError' })
  @ApiOkResponse({ type: BillingSettingsDto })
  @ApiConflictResponse({ description: 'stripe_not_connected' })
  @ApiBadGatewayResponse({ description: 'stripe_unavailable (the status is left unchanged)' })
  verify(@Body(EmptyBodyPipe) _body: undefined): Promise<BillingSettingsDto> {
    return this.service.verify(this.context.requireTenantId());
  }

  @Delete('stripe')
  @HttpCode(HttpStatus.NO_CONTENT)
  @Roles('owner', 'admin')
  @ApiOperation({ summary: 'Disconnect Stripe: destroy the stored key and delete the webhook endpoint in Stripe (204 also when not connected)' })
  @ApiNoContentResponse()
  async disconnect(): Promise<void> {
    await this.service.disconnect(this.context.requireTenantId());
  }
}
