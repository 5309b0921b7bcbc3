import { RequestContext } from '@app/common/context/request-context';
import { Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { ClsServiceManager } from 'nestjs-cls';
import { WebhookEventsRepository } from './webhook-events.repository';
import { WebhookEventsSweeper } from './webhook-events.sweeper';

const TENANT_ID = '2b1f4a9e-6f1d-4c55-9c1e-0d6b7f1a2c3d';
const ROW_ID = '8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a';
const JOB_ID = `webhook-event-${ROW_ID}`;
const NEXT_JOB_ID = `webhook-event-${ROW_ID}-g1`;

interface FakeJob {
  getState: jest.Mock;
  retry: jest.Mock;
}

function fakeJob(state: string): FakeJob {
  return { getState: jest.fn().mockResolvedValue(state), retry: jest.fn().mockResolvedValue(undefined) };
}

function setUp(jobs: Record<string, FakeJob>, nextGeneration: number | null = 1) {
  const queue = {
    getJob: jest.fn(async (id: string) => jobs[id]),
    add: jest.fn().mockResolvedValue({}),
  };
  const context = new RequestContext(ClsServiceManager.getClsService());
  const repository = {
    findUnfinished: jest.fn().mockResolvedValue([{ id: ROW_ID, tenantId: TENANT_ID, attempts: 2, generation: 0 }]),
    moveToNextGeneration: jest.fn().mockResolvedValue(nextGeneration),
  };
  const sweeper = new WebhookEventsSweeper(queue as unknown as Queue, repository as unknown as WebhookEventsRepository, context);

  return { sweeper, queue, repository, context };
}

describe('WebhookEventsSweeper', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('reads unfinished rows older than the grace period', async () => {
    const { sweeper, repository } = setUp({ [JOB_ID]: fakeJob('waiting') });

    await sweeper.sweep(30);

    expect(repository.findUnfinished).toHaveBeenCalledWith(30, 500);
  });

  it('adds a missing job under the row job id', async () => {
    const { sweeper, queue } = setUp({});

    await expect(sweeper.sweep()).resolves.toEqual({ enqueued: 1, retried: 0 });
    expect(queue.add).toHaveBeenCalledWith('process-webhook-event', { webhookEventId: ROW_ID, tenantId: TENANT_ID, generation: 0 }, { jobId: JOB_ID });
  });

  it('adds the job of the row generation', async () => {
    const { sweeper, queue, repository } = setUp({});
    repository.findUnfinished.mockResolvedValue([{ id: ROW_ID, tenantId: TENANT_ID, attempts: 2, generation: 3 }]);

    await sweeper.sweep();

    expect(queue.add).toHaveBeenCalledWith('process-webhook-event', expect.objectContaining({ generation: 3 }), { jobId: `webhook-event-${ROW_ID}-g3` });
  });

  it('retries a failed job', async () => {
    const failed = fakeJob('failed');
    const { sweeper, queue } = setUp({ [JOB_ID]: failed });

    await expect(sweeper.sweep()).resolves.toEqual({ enqueued: 0, retried: 1 });
    expect(failed.retry).toHaveBeenCalledWith('failed');
    expect(queue.add).not.toHaveBeenCalled();
  });

  it('moves the row to the next generation when its job completed', async () => {
    const { sweeper, queue, repository } = setUp({ [JOB_ID]: fakeJob('completed') });

    await expect(sweeper.sweep()).resolves.toEqual({ enqueued: 1, retried: 0 });
    expect(repository.moveToNextGeneration).toHaveBeenCalledWith(TENANT_ID, ROW_ID, 0);
    expect(queue.add).toHaveBeenCalledWith('process-webhook-event', { webhookEventId: ROW_ID, tenantId: TENANT_ID, generation: 1 }, { jobId: NEXT_JOB_ID });
  });

  it('moves the row inside its tenant', async () => {
    const { sweeper, repository, context } = setUp({ [JOB_ID]: fakeJob('completed') });
    const tenants: (string | undefined)[] = [];
    repository.moveToNextGeneration.mockImplementation(async () => {
      tenants.push(context.tenantId);

      return 1;
    });

    await sweeper.sweep();

    expect(tenants).toEqual([TENANT_ID]);
  });

  it('adds nothing when the row changed before the move', async () => {
    const { sweeper, queue } = setUp({ [JOB_ID]: fakeJob('completed') }, null);

    await expect(sweeper.sweep()).resolves.toEqual({ enqueued: 0, retried: 0 });
    expect(queue.add).not.toHaveBeenCalled();
  });

  it.each(['waiting', 'active', 'delayed', 'prioritized'])('leaves a %s job alone', async (state) => {
    const { sweeper, queue, repository } = setUp({ [JOB_ID]: fakeJob(state) });

    await expect(sweeper.sweep()).resolves.toEqual({ enqueued: 0, retried: 0 });
    expect(queue.add).not.toHaveBeenCalled();
    expect(repository.moveToNextGeneration).not.toHaveBeenCalled();
  });

  it('moves on when Redis rejects a row', async () => {
    const { sweeper, queue, repository } = setUp({});
    repository.findUnfinished.mockResolvedValue([
      { id: ROW_ID, tenantId: TENANT_ID, attempts: 0, generation: 0 },
      { id: 'f0e1d2c3-b4a5-4968-8776-a5b4c3d2e1f0', tenantId: TENANT_ID, attempts: 0, generation: 0 },
    ]);
    queue.add.mockRejectedValueOnce(new Error('Connection is closed.'));

    await expect(sweeper.sweep()).resolves.toEqual({ enqueued: 1, retried: 0 });
  });
});
