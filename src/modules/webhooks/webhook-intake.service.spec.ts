import { RequestContext } from '@app/common/context/request-context';
import { ClsServiceManager } from 'nestjs-cls';
import { DomainError } from '@app/common/errors/domain-error';
import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { Clock } from '@app/common/time/clock';
import { StripeConnectionFacade, WebhookEndpointResolution } from '@app/contracts/stripe-connection.contracts';
import { Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { QueryFailedError } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { WebhookEventInsertResult, WebhookEventsRepository } from './webhook-events.repository';
import { WebhookIntakeService } from './webhook-intake.service';
import { WebhookSignatureFailureLimiter } from './webhook-signature-failure.limiter';

const NOW = 1_764_900_000;
const TENANT_ID = '2b1f4a9e-6f1d-4c55-9c1e-0d6b7f1a2c3d';
const ENDPOINT_SECRET = 'whsec_endpointendpointendpoint';
const PLATFORM_SECRET = 'whsec_platformplatformplatform';
const ROW_ID = '8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a';
const BODY = Buffer.from(
  JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded', created: NOW - 5, livemode: false, api_version: '2026-11-18.endive' }),
);

const CONNECTED = { status: 'connected' as const, mode: 'test' as const, accountId: 'acct_1' };

/** An endpoint whose own secret is stored under an encryption key this process lacks. */
const UNDECRYPTABLE: WebhookEndpointResolution = {
  tenantId: TENANT_ID,
  endpointSecrets: [],
  undecryptableSecrets: [{ slot: 'current', encryptionKeyId: 'k2025', reason: 'missing_key' }],
  connection: CONNECTED,
};

function setUp(options: { resolution?: WebhookEndpointResolution | null; inserted?: string | null; redisReady?: boolean; limited?: boolean } = {}) {
  const resolution =
    options.resolution === undefined
      ? { tenantId: TENANT_ID, endpointSecrets: [ENDPOINT_SECRET], undecryptableSecrets: [], connection: CONNECTED }
      : options.resolution;
  const facade = { resolveWebhookEndpoint: jest.fn().mockResolvedValue(resolution) };
  const redisClient = { status: options.redisReady === false ? 'reconnecting' : 'ready' };
  const queue = { addBulk: jest.fn().mockResolvedValue([]), getBackend: () => ({ client: Promise.resolve(redisClient) }) };
  const limiter = { recordFailure: jest.fn().mockResolvedValue({ limited: options.limited ?? false, retryAfterSeconds: 42 }) };
  const id = options.inserted === undefined ? ROW_ID : options.inserted;
  const repository = {
    insertBatch: jest.fn(async (_tenantId: string, events: unknown[]): Promise<WebhookEventInsertResult[]> => events.map(() => ({ id }))),
  };
  const clock = { nowSeconds: () => NOW } as Clock;
  const config = { platformWebhookSecrets: [PLATFORM_SECRET], rateLimitWebhookFailures: { limit: 60, windowSeconds: 60 } } as AppConfig;
  const service = new WebhookIntakeService(
    config,
    facade as unknown as StripeConnectionFacade,
    queue as unknown as Queue,
    clock,
    repository as unknown as WebhookEventsRepository,
    limiter as unknown as WebhookSignatureFailureLimiter,
    new RequestContext(ClsServiceManager.getClsService()),
  );

  return { service, facade, queue, repository, limiter, redisClient };
}

/** Let the queue's connection state read its client, which resolves on a later tick. */
async function settled(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('expected a rejection');
}

describe('WebhookIntakeService', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('stores and enqueues an event signed with the endpoint secret', async () => {
    const { service, queue, repository } = setUp();
    await settled();

    await service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW));

    expect(repository.insertBatch).toHaveBeenCalledWith(TENANT_ID, [
      expect.objectContaining({ stripeEventId: 'evt_1', type: 'payment_intent.succeeded', verifiedBy: 'endpoint', rawBody: BODY }),
    ]);
    expect(queue.addBulk).toHaveBeenCalledWith([
      { name: 'process-webhook-event', data: { webhookEventId: ROW_ID, tenantId: TENANT_ID, generation: 0, stripeCreated: NOW - 5 }, opts: { jobId: `webhook-event-${ROW_ID}` } },
    ]);
  });

  it('marks an event signed with a platform secret as verified by platform', async () => {
    const { service, repository } = setUp();

    await service.receive('wh_token', BODY, signStripePayload(PLATFORM_SECRET, BODY, NOW));

    expect(repository.insertBatch).toHaveBeenCalledWith(TENANT_ID, [expect.objectContaining({ verifiedBy: 'platform' })]);
  });

  it('answers not_found for an unknown token', async () => {
    const { service, repository } = setUp({ resolution: null });

    const error = await rejection(service.receive('wh_unknown', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW)));

    expect(error.code).toBe('not_found');
    expect(repository.insertBatch).not.toHaveBeenCalled();
  });

  it('answers signature_invalid for another secret', async () => {
    const { service, repository } = setUp();

    const error = await rejection(service.receive('wh_token', BODY, signStripePayload('whsec_someoneelsesomeoneelse', BODY, NOW)));

    expect(error.code).toBe('signature_invalid');
    expect(repository.insertBatch).not.toHaveBeenCalled();
  });

  it('counts a failed signature against the endpoint token', async () => {
    const { service, limiter } = setUp();

    await rejection(service.receive('wh_token', BODY, signStripePayload('whsec_someoneelsesomeoneelse', BODY, NOW)));

    expect(limiter.recordFailure).toHaveBeenCalledWith('wh_token');
  });

  it('answers rate_limited with Retry-After past the failure limit', async () => {
    const { service, repository } = setUp({ limited: true });

    const error = await rejection(service.receive('wh_token', BODY, signStripePayload('whsec_someoneelsesomeoneelse', BODY, NOW)));

    expect(error.code).toBe('rate_limited');
    expect(error.headers).toEqual({ 'Retry-After': '42' });
    expect(repository.insertBatch).not.toHaveBeenCalled();
  });

  it('never limits a verified delivery', async () => {
    const { service, limiter, repository } = setUp({ limited: true });

    await service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW));

    expect(limiter.recordFailure).not.toHaveBeenCalled();
    expect(repository.insertBatch).toHaveBeenCalled();
  });

  it('answers signature_invalid for a signed body that is not an event', async () => {
    const body = Buffer.from('{"hello":"world"}');
    const { service, repository } = setUp();

    const error = await rejection(service.receive('wh_token', body, signStripePayload(ENDPOINT_SECRET, body, NOW)));

    expect(error.code).toBe('signature_invalid');
    expect(repository.insertBatch).not.toHaveBeenCalled();
  });

  it('enqueues nothing for a duplicate', async () => {
    const { service, queue } = setUp({ inserted: null });

    const result = await service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW));

    expect(result).toBe('duplicate');
    expect(queue.addBulk).not.toHaveBeenCalled();
  });

  it('skips the job without waiting while Redis is down', async () => {
    const { service, queue, repository } = setUp({ redisReady: false });
    await settled();

    await service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW));

    expect(repository.insertBatch).toHaveBeenCalled();
    expect(queue.addBulk).not.toHaveBeenCalled();
  });

  it('acknowledges a stored event when Redis rejects the job', async () => {
    const { service, queue } = setUp();
    await settled();
    queue.addBulk.mockRejectedValue(new Error("Stream isn't writeable and enableOfflineQueue options is false"));

    await expect(service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW))).resolves.toBe('stored');
  });

  it('stops waiting for a queue that never answers', async () => {
    jest.useFakeTimers();
    try {
      const { service, queue } = setUp();
      await jest.advanceTimersByTimeAsync(0);
      queue.addBulk.mockReturnValue(new Promise(() => undefined));

      const received = service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW));
      await jest.advanceTimersByTimeAsync(1000);

      await expect(received).resolves.toBe('stored');
    } finally {
      jest.useRealTimers();
    }
  });

  it('answers service_unavailable when the database is down', async () => {
    const { service, repository } = setUp();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    repository.insertBatch.mockResolvedValue([{ error: refused }]);

    const error = await rejection(service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW)));

    expect(error.code).toBe('service_unavailable');
  });

  it('answers service_unavailable when the token lookup fails', async () => {
    const { service, facade, repository } = setUp();
    facade.resolveWebhookEndpoint.mockRejectedValue(new Error('Connection terminated unexpectedly'));

    const error = await rejection(service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW)));

    expect(error.code).toBe('service_unavailable');
    expect(repository.insertBatch).not.toHaveBeenCalled();
  });

  it('answers signature_invalid for JSON that jsonb rejects', async () => {
    const { service, repository } = setUp();
    const driverError = Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
    repository.insertBatch.mockResolvedValue([{ error: new QueryFailedError('INSERT …', [], driverError) }]);

    const error = await rejection(service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW)));

    expect(error.code).toBe('signature_invalid');
  });

  describe('with an endpoint secret that cannot be decrypted', () => {
    it('answers service_unavailable when no secret verifies', async () => {
      const { service, repository } = setUp({ resolution: UNDECRYPTABLE });

      const error = await rejection(service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW)));

      expect(error.code).toBe('service_unavailable');
      expect(error.headers?.['Retry-After']).toBeDefined();
      expect(repository.insertBatch).not.toHaveBeenCalled();
    });

    it('does not count toward the failed-signature limit', async () => {
      const { service, limiter } = setUp({ resolution: UNDECRYPTABLE, limited: true });

      const error = await rejection(service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW)));

      expect(error.code).toBe('service_unavailable');
      expect(limiter.recordFailure).not.toHaveBeenCalled();
    });

    it('stores an event a platform secret verifies', async () => {
      const { service, repository } = setUp({ resolution: UNDECRYPTABLE });

      await service.receive('wh_token', BODY, signStripePayload(PLATFORM_SECRET, BODY, NOW));

      expect(repository.insertBatch).toHaveBeenCalledWith(TENANT_ID, [expect.objectContaining({ verifiedBy: 'platform' })]);
    });

    it('answers signature_invalid for a missing header', async () => {
      const { service, limiter } = setUp({ resolution: UNDECRYPTABLE });

      const error = await rejection(service.receive('wh_token', BODY, undefined));

      expect(error.code).toBe('signature_invalid');
      expect(limiter.recordFailure).toHaveBeenCalledWith('wh_token');
    });

    it('answers signature_invalid for a timestamp out of tolerance', async () => {
      const { service } = setUp({ resolution: UNDECRYPTABLE });

      const error = await rejection(service.receive('wh_token', BODY, signStripePayload(ENDPOINT_SECRET, BODY, NOW - 400)));

      expect(error.code).toBe('signature_invalid');
    });
  });
});
