import { RequestContext } from '@app/common/context/request-context';
import { WEBHOOKS_ADMIN, WebhooksAdmin } from '@app/contracts/webhooks.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { OpsCommand } from './ops-command';

interface WebhooksShowOptions {
  id: string;
}

@Command({ name: 'webhooks:show', description: 'Show one stored webhook event as JSON: status, reason, attempts, last error and payload' })
export class WebhooksShowCommand extends OpsCommand<WebhooksShowOptions> {
  constructor(
    context: RequestContext,
    @Inject(WEBHOOKS_ADMIN) private readonly webhooks: WebhooksAdmin,
  ) {
    super(context);
  }

  protected async execute(options: WebhooksShowOptions): Promise<void> {
    const event = await this.webhooks.getEvent(options.id.trim());

    console.log(JSON.stringify(event, null, 2));
  }

  @Option({ flags: '--id <id>', description: 'the event id from webhooks:list (not the Stripe event id)', required: true })
  parseId(value: string): string {
    return value;
  }
}
