import { RequestContext } from '@app/common/context/request-context';
import { DiscoveredMethod, MethodDiscovery } from '@app/common/discovery/method-discovery';
import { PermanentJobError, RetryLaterError } from '@app/common/queues/job-errors';
import { StripeEventHandlerMetadata } from '@app/common/stripe/on-stripe-event.decorator';
import { ConnectionView, StripeConnectionFacade } from '@app/contracts/stripe-connection.contracts';
import { Logger } from '@nestjs/common';
import { Job } from 'bullmq';
import { DataSource } from 'typeorm';
import { DomainError } from '@app/common/errors/domain-error';
import { StripeObjectConfirmation } from './stripe-object-confirmation';
import { ClaimedWebhookEvent, WebhookEventsRepository } from './webhook-events.repository';
import { WebhookEventsProcessor } from './webhook-events.processor';
import { WebhookEventsSweeper } from './webhook-events.sweeper';

const TENANT_ID = '2b1f4a9e-6f1d-4c55-9c1e-0d6b7f1a2c3d';
const ROW_ID = '8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a';
const CONNECTED: ConnectionView = { status: 'connected', mode: 'test', accountId: 'acct_1' };

function claimed(overrides: Partial<ClaimedWebhookEvent> = {}): ClaimedWebhookEvent {
  return {
    id: ROW_ID,
    tenantId: TENANT_ID,
    stripeEventId: 'evt_1',
    type: 'payment_intent.succeeded',
    livemode: false,
    payload: { id: 'evt_1', type: 'payment_intent.succeeded' },
    verifiedBy: 'endpoint',
    attempts: 1,
    receivedAt: new Date('2026-12-04T19:35:00.000Z'),
    generation: 0,
    stripeCreated: 1796412900,
    ...overrides,
  };
}

function job(attemptsMade = 0, attempts = 8, generation?: number, rowId = ROW_ID): Job {
  return {
    id: `webhook-event-${rowId}`,
    name: 'process-webhook-event',
    data: { webhookEventId: rowId, tenantId: TENANT_ID, ...(generation === undefined ? {} : { generation }) },
    attemptsMade,
    opts: { attempts },
  } as unknown as Job;
}

function setUp(
  handle: jest.Mock,
  options: { event?: ClaimedWebhookEvent | null; connection?: ConnectionView; inTenantAccount?: boolean | Error } = {},
) {
  const handler: DiscoveredMethod<StripeEventHandlerMetadata> = {
    metadata: { types: ['payment_intent.succeeded'] },
    name: 'PaymentEvents.onSucceeded',
    invoke: handle,
  };
  const repository = {
    claimBatch: jest.fn(async (_tenantId: string, claims: { id: string; generation: number }[]) =>
      claims.map((claim) => (options.event === undefined ? claimed({ id: claim.id, generation: claim.generation }) : options.event)),
    ),
    recordOutcomes: jest.fn().mockResolvedValue(undefined),
    recordFailure: jest.fn().mockResolvedValue(undefined),
    recordAttemptError: jest.fn().mockResolvedValue(undefined),
  };
  const facade = {
    getConnection: jest.fn().mockResolvedValue(options.connection ?? CONNECTED),
    recordWebhookEventReceived: jest.fn().mockResolvedValue(undefined),
  };
  const confirmation = {
    isInTenantAccount:
      options.inTenantAccount instanceof Error
        ? jest.fn().mockRejectedValue(options.inTenantAccount)
        : jest.fn().mockResolvedValue(options.inTenantAccount ?? true),
  };
  const context = {
    runAsTenant: (_tenantId: string, work: () => Promise<unknown>) => work(),
    runOnOneConnection: jest.fn((_dataSource: DataSource, work: () => Promise<unknown>) => work()),
  };
  const discovery = { findMethods: () => [handler] };
  const processor = new WebhookEventsProcessor(
    facade as unknown as StripeConnectionFacade,
    {} as DataSource,
    context as unknown as RequestContext,
    discovery as unknown as MethodDiscovery,
    repository as unknown as WebhookEventsRepository,
    {} as WebhookEventsSweeper,
    confirmation as unknown as StripeObjectConfirmation,
  );
  processor.onModuleInit();

  return { processor, repository, facade, confirmation, context };
}

describe('WebhookEventsProcessor', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('stores a processed outcome', async () => {
    const { processor, repository } = setUp(jest.fn().mockResolvedValue({ result: 'processed' }));

    await processor.process(job());

    expect(repository.recordOutcomes).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, stripeCreated: 1796412900, generation: 0, status: 'processed', reason: null }]);
  });

  it('passes the payload and context to the handler', async () => {
    const handle = jest.fn().mockResolvedValue({ result: 'processed' });
    const { processor } = setUp(handle);

    await processor.process(job());

    expect(handle).toHaveBeenCalledWith(
      { id: 'evt_1', type: 'payment_intent.succeeded' },
      { tenantId: TENANT_ID, inboxEventId: ROW_ID, verifiedBy: 'endpoint', connection: { mode: 'test', accountId: 'acct_1' } },
    );
  });

  it('stores an ignored outcome with its reason', async () => {
    const { processor, repository } = setUp(jest.fn().mockResolvedValue({ result: 'ignored', reason: 'unknown_object' }));

    await processor.process(job());

    expect(repository.recordOutcomes).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, stripeCreated: 1796412900, generation: 0, status: 'ignored', reason: 'unknown_object' }]);
  });

  it('ignores an unhandled type without reading the connection', async () => {
    const handle = jest.fn();
    const { processor, repository, facade } = setUp(handle, { event: claimed({ type: 'customer.created' }) });

    await processor.process(job());

    expect(repository.recordOutcomes).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, stripeCreated: 1796412900, generation: 0, status: 'ignored', reason: 'unhandled_type' }]);
    expect(facade.getConnection).not.toHaveBeenCalled();
  });

  it('ignores a live event for a test connection', async () => {
    const handle = jest.fn();
    const { processor, repository } = setUp(handle, { event: claimed({ livemode: true }) });

    await processor.process(job());

    expect(repository.recordOutcomes).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, stripeCreated: 1796412900, generation: 0, status: 'ignored', reason: 'mode_mismatch' }]);
    expect(handle).not.toHaveBeenCalled();
  });

  it('ignores a platform-verified event of a disconnected tenant', async () => {
    const handle = jest.fn();
    const { processor, repository } = setUp(handle, {
      event: claimed({ verifiedBy: 'platform' }),
      connection: { status: 'not_connected', mode: null, accountId: null },
    });

    await processor.process(job());

    expect(repository.recordOutcomes).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, stripeCreated: 1796412900, generation: 0, status: 'ignored', reason: 'tenant_disconnected' }]);
  });

  it('dispatches an endpoint-verified event of a disconnected tenant', async () => {
    const handle = jest.fn().mockResolvedValue({ result: 'processed' });
    const { processor } = setUp(handle, { connection: { status: 'not_connected', mode: null, accountId: null } });

    await processor.process(job());

    expect(handle).toHaveBeenCalledWith(expect.anything(), expect.objectContaining({ connection: null }));
  });

  it('records the delivery time on the first attempt', async () => {
    const { processor, facade } = setUp(jest.fn().mockResolvedValue({ result: 'processed' }));

    await processor.process(job());

    expect(facade.recordWebhookEventReceived).toHaveBeenCalledWith(TENANT_ID, new Date('2026-12-04T19:35:00.000Z'));
  });

  it('leaves the delivery time alone on a retry', async () => {
    const { processor, facade } = setUp(jest.fn().mockResolvedValue({ result: 'processed' }), { event: claimed({ attempts: 2 }) });

    await processor.process(job(1));

    expect(facade.recordWebhookEventReceived).not.toHaveBeenCalled();
  });

  it('processes the event when the delivery time cannot be recorded', async () => {
    const { processor, repository, facade } = setUp(jest.fn().mockResolvedValue({ result: 'processed' }));
    facade.recordWebhookEventReceived.mockRejectedValue(new Error('connection terminated'));

    await processor.process(job());

    expect(repository.recordOutcomes).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, stripeCreated: 1796412900, generation: 0, status: 'processed', reason: null }]);
  });

  it('skips a row that is already finished', async () => {
    const handle = jest.fn();
    const { processor } = setUp(handle, { event: null });

    await expect(processor.process(job())).resolves.toEqual({ result: 'skipped' });
    expect(handle).not.toHaveBeenCalled();
  });

  it('claims the row for the generation in the job', async () => {
    const { processor, repository } = setUp(jest.fn().mockResolvedValue({ result: 'processed' }));

    await processor.process(job(0, 8, 3));

    expect(repository.claimBatch).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, generation: 3 }]);
  });

  it('claims generation 0 for a job without one', async () => {
    const { processor, repository } = setUp(jest.fn().mockResolvedValue({ result: 'processed' }));

    await processor.process(job());

    expect(repository.claimBatch).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, generation: 0 }]);
  });

  it('confirms a platform-verified event in the tenant account before dispatch', async () => {
    const handle = jest.fn().mockResolvedValue({ result: 'processed' });
    const { processor, confirmation } = setUp(handle, { event: claimed({ verifiedBy: 'platform' }) });

    await processor.process(job());

    expect(confirmation.isInTenantAccount).toHaveBeenCalledWith(TENANT_ID, { id: 'evt_1', payload: expect.any(Object) });
    expect(handle).toHaveBeenCalled();
  });

  it('ignores a platform-verified event about a foreign object', async () => {
    const handle = jest.fn();
    const { processor, repository } = setUp(handle, { event: claimed({ verifiedBy: 'platform' }), inTenantAccount: false });

    await processor.process(job());

    expect(repository.recordOutcomes).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, stripeCreated: 1796412900, generation: 0, status: 'ignored', reason: 'foreign_object' }]);
    expect(handle).not.toHaveBeenCalled();
  });

  it('does not call Stripe for an endpoint-verified event', async () => {
    const { processor, confirmation } = setUp(jest.fn().mockResolvedValue({ result: 'processed' }));

    await processor.process(job());

    expect(confirmation.isInTenantAccount).not.toHaveBeenCalled();
  });

  it('does not call Stripe for a mode mismatch', async () => {
    const { processor, confirmation } = setUp(jest.fn(), { event: claimed({ verifiedBy: 'platform', livemode: true }) });

    await processor.process(job());

    expect(confirmation.isInTenantAccount).not.toHaveBeenCalled();
  });

  it('fails the row at once when the confirmation meets a revoked key', async () => {
    const { processor, repository } = setUp(jest.fn(), {
      event: claimed({ verifiedBy: 'platform' }),
      inTenantAccount: new DomainError('stripe_keys_invalid', 'Stripe rejected the stored key'),
    });

    await expect(processor.process(job())).rejects.toBeInstanceOf(PermanentJobError);
    expect(repository.recordFailure).toHaveBeenCalledWith(
      expect.objectContaining({ id: ROW_ID }),
      'stripe_keys_invalid',
      'stripe_keys_invalid: Stripe rejected the stored key',
    );
  });

  it('fails the row at once on a permanent error', async () => {
    const error = new PermanentJobError('stripe_keys_invalid', 'The key was revoked');
    const { processor, repository } = setUp(jest.fn().mockRejectedValue(error));

    const thrown = await processor.process(job()).catch((rejection: unknown) => rejection);

    expect(thrown).toBeInstanceOf(PermanentJobError);
    expect((thrown as PermanentJobError).reason).toBe('stripe_keys_invalid');
    expect(repository.recordFailure).toHaveBeenCalledWith(expect.objectContaining({ id: ROW_ID }), 'stripe_keys_invalid', 'stripe_keys_invalid: The key was revoked');
  });

  it('keeps the row processing on a transient error', async () => {
    const { processor, repository } = setUp(jest.fn().mockRejectedValue(new RetryLaterError('Payment not stored yet')));

    const thrown = await processor.process(job(2)).catch((rejection: unknown) => rejection);

    expect(thrown).not.toBeInstanceOf(PermanentJobError);
    expect((thrown as Error).message).toBe('Payment not stored yet');
    expect(repository.recordAttemptError).toHaveBeenCalledWith(expect.objectContaining({ id: ROW_ID }), 'retry_later: Payment not stored yet');
    expect(repository.recordFailure).not.toHaveBeenCalled();
  });

  it('retries a Stripe outage as a transient error', async () => {
    const stripeDown = Object.assign(new Error('Stripe is down'), { type: 'StripeAPIError', statusCode: 503 });
    const { processor, repository } = setUp(jest.fn().mockRejectedValue(stripeDown));

    await expect(processor.process(job(0))).rejects.not.toBeInstanceOf(PermanentJobError);
    expect(repository.recordAttemptError).toHaveBeenCalledWith(expect.objectContaining({ id: ROW_ID }), 'stripe_unavailable: Stripe is down');
  });

  it('fails the row on the last attempt', async () => {
    const { processor, repository } = setUp(jest.fn().mockRejectedValue(new Error('socket hang up')));

    await expect(processor.process(job(7, 8))).rejects.toThrow('socket hang up');
    expect(repository.recordFailure).toHaveBeenCalledWith(expect.objectContaining({ id: ROW_ID }), 'retries_exhausted', 'error: socket hang up');
  });

  it('redacts secrets in the stored error', async () => {
    const { processor, repository } = setUp(jest.fn().mockRejectedValue(new Error('Invalid API Key provided: sk_test_abcdefghijklmnop')));

    await expect(processor.process(job(2))).rejects.toThrow();
    expect(repository.recordAttemptError).toHaveBeenCalledWith(expect.objectContaining({ id: ROW_ID }), 'error: Invalid API Key provided: sk_test_[redacted]');
  });

  it('redacts secrets in the error BullMQ stores', async () => {
    const { processor } = setUp(jest.fn().mockRejectedValue(new Error('Invalid API Key provided: sk_test_abcdefghijklmnop')));

    const thrown = (await processor.process(job(2)).catch((rejection: unknown) => rejection)) as Error;

    expect(thrown.message).toBe('Invalid API Key provided: sk_test_[redacted]');
    expect(thrown.stack).not.toContain('sk_test_abcdefghijklmnop');
  });

  it('shares statements and one connection between concurrent jobs of a tenant', async () => {
    const otherRowId = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
    const { processor, repository, facade, context } = setUp(jest.fn().mockResolvedValue({ result: 'processed' }));

    await Promise.all([processor.process(job()), processor.process(job(0, 8, undefined, otherRowId))]);

    expect(context.runOnOneConnection).toHaveBeenCalledTimes(1);
    expect(repository.claimBatch).toHaveBeenCalledTimes(1);
    expect(repository.claimBatch).toHaveBeenCalledWith(TENANT_ID, [
      { id: ROW_ID, generation: 0 },
      { id: otherRowId, generation: 0 },
    ]);
    expect(facade.recordWebhookEventReceived).toHaveBeenCalledTimes(1);
    expect(facade.getConnection).toHaveBeenCalledTimes(1);
    expect(repository.recordOutcomes).toHaveBeenCalledTimes(1);
    expect(repository.recordOutcomes).toHaveBeenCalledWith(TENANT_ID, [
      { id: ROW_ID, stripeCreated: 1796412900, generation: 0, status: 'processed', reason: null },
      { id: otherRowId, stripeCreated: 1796412900, generation: 0, status: 'processed', reason: null },
    ]);
  });

  it('fails only the failing job of a batch', async () => {
    const otherRowId = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
    const handle = jest.fn(async (_payload: unknown, context: { inboxEventId: string }) => {
      if (context.inboxEventId === otherRowId) {
        throw new Error('socket hang up');
      }

      return { result: 'processed' };
    });
    const { processor, repository } = setUp(handle);

    const [succeeded, failed] = await Promise.allSettled([processor.process(job()), processor.process(job(0, 8, undefined, otherRowId))]);

    expect(succeeded).toEqual({ status: 'fulfilled', value: { result: 'processed' } });
    expect(failed.status).toBe('rejected');
    expect((failed as PromiseRejectedResult).reason.message).toBe('socket hang up');
    expect(repository.recordOutcomes).toHaveBeenCalledWith(TENANT_ID, [{ id: ROW_ID, stripeCreated: 1796412900, generation: 0, status: 'processed', reason: null }]);
    expect(repository.recordAttemptError).toHaveBeenCalledTimes(1);
    expect(repository.recordAttemptError).toHaveBeenCalledWith(expect.objectContaining({ id: otherRowId }), 'error: socket hang up');
  });

  it('fails every job of a batch whose claim statement fails', async () => {
    const otherRowId = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
    const handle = jest.fn();
    const { processor, repository } = setUp(handle);
    repository.claimBatch.mockRejectedValueOnce(new Error('connection terminated'));

    const results = await Promise.allSettled([processor.process(job()), processor.process(job(0, 8, undefined, otherRowId))]);

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(handle).not.toHaveBeenCalled();
    expect(repository.recordOutcomes).not.toHaveBeenCalled();
  });

  it('retries only the dispatched jobs when the outcome statement fails', async () => {
    const otherRowId = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
    const handle = jest.fn(async (_payload: unknown, context: { inboxEventId: string }) => {
      if (context.inboxEventId === otherRowId) {
        throw new PermanentJobError('stripe_keys_invalid', 'The key was revoked');
      }

      return { result: 'processed' };
    });
    const { processor, repository } = setUp(handle);
    repository.recordOutcomes.mockRejectedValueOnce(new Error('connection terminated'));

    const [dispatched, failed] = await Promise.allSettled([processor.process(job()), processor.process(job(0, 8, undefined, otherRowId))]);

    expect((dispatched as PromiseRejectedResult).reason.message).toBe('connection terminated');
    // The permanent failure was stored before the outcome statement, and its job must not retry.
    expect((failed as PromiseRejectedResult).reason).toBeInstanceOf(PermanentJobError);
    expect(repository.recordFailure).toHaveBeenCalledWith(expect.objectContaining({ id: otherRowId }), expect.any(String), expect.any(String));
  });
});
