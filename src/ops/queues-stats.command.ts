import { RequestContext } from '@app/common/context/request-context';
import { WEBHOOKS_ADMIN, WebhooksAdmin } from '@app/contracts/webhooks.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { printTable } from './cli-output';
import { OpsCommand } from './ops-command';
import { assertRedisReachable } from './redis-check';

interface QueuesStatsOptions {
  json?: boolean;
}

@Command({ name: 'queues:stats', description: 'Show the job counts of each queue and whether it is paused' })
export class QueuesStatsCommand extends OpsCommand<QueuesStatsOptions> {
  constructor(
    context: RequestContext,
    @Inject(WEBHOOKS_ADMIN) private readonly webhooks: WebhooksAdmin,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super(context);
  }

  protected async execute(options: QueuesStatsOptions): Promise<void> {
    await assertRedisReachable(this.config);
    const queues = await this.webhooks.queueCounts();
    if (options.json) {
      console.log(JSON.stringify({ data: queues }, null, 2));

      return;
    }

    printTable(
      ['QUEUE', 'WAITING', 'ACTIVE', 'DELAYED', 'FAILED', 'COMPLETED', 'PAUSED'],
      queues.map((queue) => [
        queue.name,
        String(queue.waiting),
        String(queue.active),
        String(queue.delayed),
        String(queue.failed),
        String(queue.completed),
        queue.paused ? 'yes' : 'no',
      ]),
    );
  }

  @Option({ flags: '--json', description: 'print the counts as JSON' })
  parseJson(): boolean {
    return true;
  }
}
