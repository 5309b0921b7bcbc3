import { RequestContext } from '@app/common/context/request-context';
import { ALL_QUEUES } from '@app/common/queues/queue-names';
import { WEBHOOKS_ADMIN, WebhooksAdmin } from '@app/contracts/webhooks.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { parseChoiceOption } from './choice-option';
import { cliActor } from './cli-actor';
import { OpsCommand } from './ops-command';
import { assertRedisReachable } from './redis-check';

interface QueuesRetryFailedOptions {
  queue: string;
}

@Command({
  name: 'queues:retry-failed',
  description: "Move a queue's failed jobs back to waiting with their attempts reset (audited as queue.failed_jobs_retried)",
})
export class QueuesRetryFailedCommand extends OpsCommand<QueuesRetryFailedOptions> {
  constructor(
    context: RequestContext,
    @Inject(WEBHOOKS_ADMIN) private readonly webhooks: WebhooksAdmin,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super(context);
  }

  protected async execute(options: QueuesRetryFailedOptions): Promise<void> {
    const queue = parseChoiceOption('queue', options.queue, ALL_QUEUES) ?? options.queue;
    await assertRedisReachable(this.config);
    const { retried } = await this.webhooks.retryFailedJobs(queue, cliActor());

    console.log(`Moved ${retried} failed ${retried === 1 ? 'job' : 'jobs'} of ${queue} back to waiting.`);
  }

  @Option({ flags: '--queue <name>', description: `the queue: ${ALL_QUEUES.join(', ')}`, required: true })
  parseQueue(value: string): string {
    return value;
  }
}
