import { RequestContext } from '@app/common/context/request-context';
import { validationFailed } from '@app/common/errors/domain-error';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { REPLAYABLE_WEBHOOK_EVENT_STATUSES, WEBHOOKS_ADMIN, WebhooksAdmin } from '@app/contracts/webhooks.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { parseChoiceOption } from './choice-option';
import { cliActor } from './cli-actor';
import { OpsCommand, resolveTenant } from './ops-command';
import { assertRedisReachable } from './redis-check';
import { parseTimeOption } from './time-option';

interface WebhooksReplayOptions {
  id?: string;
  status?: string;
  tenant?: string;
  type?: string;
  since?: string;
  until?: string;
  dryRun?: boolean;
}

@Command({
  name: 'webhooks:replay',
  description:
    'Run stored webhook events again through the worker: one by --id, or every event matching --status (failed, ignored or processed) and the other filters. Audited as webhook.replayed.',
})
export class WebhooksReplayCommand extends OpsCommand<WebhooksReplayOptions> {
  constructor(
    context: RequestContext,
    @Inject(TENANCY_ADMIN) private readonly tenancyAdmin: TenancyAdmin,
    @Inject(WEBHOOKS_ADMIN) private readonly webhooks: WebhooksAdmin,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super(context);
  }

  protected async execute(options: WebhooksReplayOptions): Promise<void> {
    const filters = [options.status, options.tenant, options.type, options.since, options.until].filter((value) => value !== undefined);
    if (options.id !== undefined) {
      if (filters.length > 0 || options.dryRun) {
        throw validationFailed([{ field: 'id', message: 'replays one event: leave out --status, --tenant, --type, --since, --until and --dry-run' }]);
      }

      await assertRedisReachable(this.config);
      await this.webhooks.replayEvent(options.id.trim(), cliActor());
      console.log(`Replayed webhook event ${options.id.trim()}. Follow it with: npm run ops -- webhooks:show --id ${options.id.trim()}`);

      return;
    }

    const status = parseChoiceOption('status', options.status, REPLAYABLE_WEBHOOK_EVENT_STATUSES);
    if (status === undefined) {
      throw validationFailed([{ field: 'status', message: 'is required without --id: failed, ignored or processed' }]);
    }

    const tenant = options.tenant === undefined ? undefined : await resolveTenant(options.tenant, this.tenancyAdmin);
    // A dry run only counts rows, so it works without Redis.
    if (options.dryRun !== true) {
      await assertRedisReachable(this.config);
    }
    const result = await this.webhooks.replayEvents(
      {
        tenantId: tenant?.id,
        status,
        type: options.type,
        since: parseTimeOption('since', options.since),
        until: parseTimeOption('until', options.until),
        dryRun: options.dryRun === true,
      },
      cliActor(),
    );

    if ('wouldReplay' in result) {
      console.log(`Dry run: ${result.wouldReplay} events would be replayed. Nothing was changed.`);

      return;
    }

    const remaining = (result as { remaining?: number }).remaining ?? 0;
    console.log(`Replayed ${result.replayed} events.${remaining > 0 ? ` ${remaining} more match: run the same command again.` : ''}`);
  }

  @Option({ flags: '--id <id>', description: 'replay this one event (the id from webhooks:list)' })
  parseId(value: string): string {
    return value;
  }

  @Option({ flags: '--status <status>', description: 'replay every event with this status: failed, ignored or processed' })
  parseStatus(value: string): string {
    return value;
  }

  @Option({ flags: '--tenant <slug|id>', description: 'only this tenant, by slug or id' })
  parseTenant(value: string): string {
    return value;
  }

  @Option({ flags: '--type <type>', description: 'only this Stripe event type' })
  parseType(value: string): string {
    return value;
  }

  @Option({ flags: '--since <time>', description: 'received at or after this ISO 8601 time' })
  parseSince(value: string): string {
    return value;
  }

  @Option({ flags: '--until <time>', description: 'received before this ISO 8601 time' })
  parseUntil(value: string): string {
    return value;
  }

  @Option({ flags: '--dry-run', description: 'count the events that would be replayed, and replay none' })
  parseDryRun(): boolean {
    return true;
  }
}
