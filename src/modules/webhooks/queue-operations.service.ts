import { DomainError, notFound } from '@app/common/errors/domain-error';
import { describeError } from '@app/common/logging/error-description';
import { withTimeout } from '@app/common/queues/queue-connection-state';
import { ALL_QUEUES, QUEUE_DOMAIN_EVENTS, QUEUE_INVOICES, QUEUE_MAINTENANCE, QUEUE_PAYMENTS, QUEUE_WEBHOOK_EVENTS, QueueName } from '@app/common/queues/queue-names';
import { AuditActor, TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { QueueCountsView } from '@app/contracts/webhooks.contracts';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';

/** Failed jobs read per round while retrying; each retry takes a job off the failed set. */
const RETRY_PAGE_SIZE = 100;
/** How long a queue command may take before the operator gets 503: Redis is then away or overloaded. */
const COMMAND_TIMEOUT_MS = 10_000;

/** Job counts and the retry of failed jobs for every queue of the service (ALL_QUEUES), for operators. */
@Injectable()
export class QueueOperationsService {
  private readonly logger = new Logger(QueueOperationsService.name);
  private readonly queues: Map<QueueName, Queue>;

  constructor(
    @Inject(TENANCY_FACADE) private readonly tenancy: TenancyFacade,
    @InjectQueue(QUEUE_WEBHOOK_EVENTS) webhookEvents: Queue,
    @InjectQueue(QUEUE_DOMAIN_EVENTS) domainEvents: Queue,
    @InjectQueue(QUEUE_INVOICES) invoices: Queue,
    @InjectQueue(QUEUE_PAYMENTS) payments: Queue,
    @InjectQueue(QUEUE_MAINTENANCE) maintenance: Queue,
  ) {
    this.queues = new Map<QueueName, Queue>([
      [QUEUE_WEBHOOK_EVENTS, webhookEvents],
      [QUEUE_DOMAIN_EVENTS, domainEvents],
      [QUEUE_INVOICES, invoices],
      [QUEUE_PAYMENTS, payments],
      [QUEUE_MAINTENANCE, maintenance],
    ]);
  }

  async counts(): Promise<QueueCountsView[]> {
    return this.withRedis('read the queue counts', () =>
      Promise.all(
        ALL_QUEUES.map(async (name) => {
          const queue = this.queue(name);
          const counts = await queue.getJobCounts('waiting', 'prioritized', 'waiting-children', 'active', 'delayed', 'failed', 'completed');

          return {
            name,
            waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts['waiting-children'] ?? 0),
            active: counts.active ?? 0,
            delayed: counts.delayed ?? 0,
            failed: counts.failed ?? 0,
            completed: counts.completed ?? 0,
            paused: await queue.isPaused(),
          };
        }),
      ),
    );
  }

  /**
   * Move every failed job of a queue back to waiting with its attempts reset,
   * and record the operator's action in the audit log. Returns how many were
   * moved; a job that left the failed set meanwhile is not counted.
   */
  async retryFailed(name: string, actor?: AuditActor): Promise<{ retried: number }> {
    if (!(ALL_QUEUES as readonly string[]).includes(name)) {
      throw notFound('queue');
    }

    const queue = this.queue(name as QueueName);
    const retried = await this.withRedis('retry the failed jobs', async () => {
      let count = 0;
      for (;;) {
        const jobs = await queue.getFailed(0, RETRY_PAGE_SIZE - 1);
        let movedInPage = 0;
        for (const job of jobs) {
          try {
            await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
            movedInPage++;
          } catch (error) {
            this.logger.debug({ queue: name, jobId: job.id, err: describeError(error) }, 'Failed job changed state before its retry');
          }
        }
        count += movedInPage;
        if (jobs.length < RETRY_PAGE_SIZE || movedInPage === 0) {
          return count;
        }
      }
    });

    await this.tenancy.recordAudit({ tenantId: null, action: 'queue.failed_jobs_retried', details: { queue: name, retried }, ...(actor ? { actor } : {}) });
    this.logger.log({ queue: name, retried }, 'Operator retried failed jobs');

    return { retried };
  }

  private queue(name: QueueName): Queue {
    return this.queues.get(name) as Queue;
  }

  private async withRedis<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(work(), COMMAND_TIMEOUT_MS, `Trying to ${what}`);
    } catch (error) {
      this.logger.error({ err: describeError(error) }, `Could not ${what}: Redis is unavailable`);
      throw new DomainError('service_unavailable', `Could not ${what}: Redis is unavailable. Retry in a few seconds.`, {
        headers: { 'Retry-After': '5' },
        cause: error,
      });
    }
  }
}
