import { RequestContext } from '@app/common/context/request-context';
import { notFound } from '@app/common/errors/domain-error';
import { Roles } from '@app/common/roles/roles';
import { Body, Controller, HttpCode, HttpStatus, Param, Put } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiNoContentResponse, ApiNotFoundResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { isUUID } from 'class-validator';
import { SetWebhookSecretDto } from './dto/set-webhook-secret.dto';
import { WebhookEndpointService } from './webhook-endpoint.service';

/** Operator routes about tenants' Stripe webhook endpoints. */
@ApiTags('ops')
@ApiBearerAuth()
@Controller('api/v1/ops/tenants')
export class StripeConnectionOpsController {
  constructor(
    private readonly endpoints: WebhookEndpointService,
    private readonly context: RequestContext,
  ) {}

  @Put(':tenantId/webhook-secret')
  @HttpCode(HttpStatus.NO_CONTENT)
  @Roles('operator')
  @ApiOperation({ summary: "Set the signing secret of a tenant endpoint pasted by hand in the Stripe Dashboard (stored encrypted, never returned)" })
  @ApiNoContentResponse()
  @ApiBadRequestResponse({ description: 'validation_failed: the secret is not whsec_…' })
  @ApiNotFoundResponse({ description: 'not_found: no such tenant' })
  async setWebhookSecret(@Param('tenantId') tenantId: string, @Body() body: SetWebhookSecretDto): Promise<void> {
    if (!isUUID(tenantId)) {
      throw notFound('tenant');
    }

    // An operator has no tenant of its own, so the named tenant's rows are written in that tenant.
    await this.context.runInTenant(tenantId, () => this.endpoints.setSecretByOperator(tenantId, body.secret));
  }
}
