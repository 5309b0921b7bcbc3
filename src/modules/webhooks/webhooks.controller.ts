import { markDuplicateWebhookDelivery } from '@app/common/metrics/webhook-intake.middleware';
import { Public } from '@app/common/roles/roles';
import { Controller, Headers, HttpCode, HttpStatus, Param, Post, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { WebhookReceivedDto } from './dto/webhook-received.dto';
import { WebhookIntakeService } from './webhook-intake.service';

const EMPTY_BODY = Buffer.alloc(0);

/**
 * Stripe's deliveries to a tenant's webhook URL. Authenticated by the
 * signature alone, so no bearer token. app.factory.ts hands this path the raw
 * body as a Buffer (up to 1 MiB, else 413 before this runs). Deliveries to
 * the canonical URL are served before Express by
 * src/http/webhook-intake.route.ts. This controller serves the other
 * spellings of the path (another letter case, a trailing slash, a
 * percent-encoded token) and bodies with a Content-Encoding. It also gives
 * the route its OpenAPI description.
 */
@ApiTags('webhooks')
@Controller('webhooks/stripe')
export class WebhooksController {
  constructor(private readonly intake: WebhookIntakeService) {}

  @Public()
  @Post(':endpointToken')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Receive a Stripe event',
    description:
      'Verifies the Stripe-Signature header over the raw body (the tenant endpoint secrets first, then the platform secrets), stores the event and acknowledges it without waiting for its processing.',
  })
  @ApiParam({ name: 'endpointToken', description: 'The token of the webhook URL shown on the Billing page', example: 'wh_3kTqV9sXnR2mLp8aZc4Y' })
  @ApiHeader({ name: 'Stripe-Signature', required: true, description: 't=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…]' })
  @ApiConsumes('application/json')
  @ApiBody({ description: 'The Stripe event exactly as Stripe signed it', schema: { type: 'object' } })
  @ApiOkResponse({ type: WebhookReceivedDto, description: 'Verified and stored, including duplicates and events the service ignores' })
  @ApiPayloadTooLargeResponse({ description: 'payload_too_large: the body is over 1 MiB' })
  @ApiNotFoundResponse({ description: 'not_found: unknown endpoint token' })
  @ApiTooManyRequestsResponse({ description: 'rate_limited: too many failed signatures on this endpoint' })
  @ApiBadRequestResponse({ description: 'signature_invalid: missing or bad signature, timestamp out of tolerance, or body not a Stripe event' })
  @ApiServiceUnavailableResponse({ description: 'service_unavailable: the event could not be stored; Stripe retries' })
  async receive(
    @Param('endpointToken') endpointToken: string,
    @Headers('stripe-signature') signature: string | undefined,
    @Req() request: Request,
  ): Promise<WebhookReceivedDto> {
    // express.raw leaves the body unset when the request has none.
    const rawBody = Buffer.isBuffer(request.body) ? request.body : EMPTY_BODY;
    if ((await this.intake.receive(endpointToken, rawBody, signature)) === 'duplicate') {
      markDuplicateWebhookDelivery(request);
    }

    return { received: true };
  }
}
