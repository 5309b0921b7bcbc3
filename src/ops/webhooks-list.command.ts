import { RequestContext } from '@app/common/context/request-context';
import { validationFailed } from '@app/common/errors/domain-error';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { WEBHOOKS_ADMIN, WEBHOOK_EVENT_STATUSES, WebhooksAdmin } from '@app/contracts/webhooks.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { printTable } from './cli-output';
import { parseChoiceOption } from './choice-option';
import { OpsCommand, resolveTenant } from './ops-command';
import { parseTimeOption } from './time-option';

interface WebhooksListOptions {
  tenant?: string;
  status?: string;
  type?: string;
  since?: string;
  until?: string;
  limit?: string;
  cursor?: string;
  json?: boolean;
}

@Command({
  name: 'webhooks:list',
  description: 'List stored Stripe webhook events, newest first, with their status, reason and attempts',
})
export class WebhooksListCommand extends OpsCommand<WebhooksListOptions> {
  constructor(
    context: RequestContext,
    @Inject(TENANCY_ADMIN) private readonly tenancyAdmin: TenancyAdmin,
    @Inject(WEBHOOKS_ADMIN) private readonly webhooks: WebhooksAdmin,
  ) {
    super(context);
  }

  protected async execute(options: WebhooksListOptions): Promise<void> {
    const status = parseChoiceOption('status', options.status, WEBHOOK_EVENT_STATUSES);

    const limit = options.limit === undefined ? undefined : Number(options.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100)) {
      throw validationFailed([{ field: 'limit', message: `must be an integer from 1 to 100 (got "${options.limit}")` }]);
    }

    const tenant = options.tenant === undefined ? undefined : await resolveTenant(options.tenant, this.tenancyAdmin);
    const page = await this.webhooks.listEvents({
      tenantId: tenant?.id,
      status,
      type: options.type,
      since: parseTimeOption('since', options.since),
      until: parseTimeOption('until', options.until),
      limit,
      cursor: options.cursor,
    });

    if (options.json) {
      console.log(JSON.stringify(page, null, 2));

      return;
    }

    if (page.data.length === 0) {
      console.log('No webhook events match.');

      return;
    }

    printTable(
      ['ID', 'TENANT', 'STATUS', 'REASON', 'ATTEMPTS', 'TYPE', 'STRIPE EVENT', 'RECEIVED'],
      page.data.map((event) => [
        event.id,
        event.tenantId,
        event.status,
        event.reason ?? '-',
        String(event.attempts),
        event.type,
        event.stripeEventId,
        event.receivedAt,
      ]),
    );
    if (page.nextCursor) {
      console.log(`More events: add --cursor ${page.nextCursor}`);
    }
  }

  @Option({ flags: '--tenant <slug|id>', description: 'only this tenant, by slug or id' })
  parseTenant(value: string): string {
    return value;
  }

  @Option({ flags: '--status <status>', description: 'received, processing, processed, failed or ignored' })
  parseStatus(value: string): string {
    return value;
  }

  @Option({ flags: '--type <type>', description: 'only this Stripe event type, e.g. payment_intent.succeeded' })
  parseType(value: string): string {
    return value;
  }

  @Option({ flags: '--since <time>', description: 'received at or after this ISO 8601 time, e.g. 2026-12-04T03:00:00Z' })
  parseSince(value: string): string {
    return value;
  }

  @Option({ flags: '--until <time>', description: 'received before this ISO 8601 time' })
  parseUntil(value: string): string {
    return value;
  }

  @Option({ flags: '--limit <n>', description: 'events per page, 1 to 100 (default 25)' })
  parseLimit(value: string): string {
    return value;
  }

  @Option({ flags: '--cursor <cursor>', description: 'the cursor printed under the previous page' })
  parseCursor(value: string): string {
    return value;
  }

  @Option({ flags: '--json', description: 'print the page as JSON' })
  parseJson(): boolean {
    return true;
  }
}
