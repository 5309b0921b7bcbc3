import { Body, CallHandler, Controller, Logger, Param, Post } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { IsInt, Min } from 'class-validator';
import { lastValueFrom, of, throwError } from 'rxjs';
import { RequestContext } from '../context/request-context';
import { DomainError } from '../errors/domain-error';
import { requestBodyHash } from './canonical-json';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { ClaimedKey, IdempotencyCheck, IdempotencyClaim, IdempotencyClaimLostError, IdempotencyService } from './idempotency.service';
import { Idempotent } from './idempotent.decorator';

class ChargeDto {
  @IsInt()
  @Min(1)
  amount!: number;
}

@Controller('things')
class ThingsController {
  @Post(':id/charges')
  @Idempotent({ leaseSeconds: 30 })
  charge(@Param('id') id: string, @Body() body: ChargeDto): { id: string; amount: number } {
    return { id, amount: body.amount };
  }

  @Post(':id/refunds')
  @Idempotent({ leaseSeconds: 30, claimInHandler: true })
  refund(@Param('id') id: string, @Body() body: ChargeDto): { id: string; amount: number } {
    return { id, amount: body.amount };
  }
}

const TENANT_ID = '7d4c2c58-1f49-4d7e-9a57-0c6f0f3f2a11';
const CLAIMED: ClaimedKey = { kind: 'claimed', leaseToken: 'lease', key: { id: 'key-id', attempt: 1, recovered: false } };

interface FakeResponse {
  statusCode: number;
  headers: Record<string, string>;
  status(code: number): FakeResponse;
  setHeader(name: string, value: string): void;
  type(value: string): FakeResponse;
}

function fakeResponse(statusCode = 201): FakeResponse {
  return {
    statusCode,
    headers: {},
    status(code) {
      this.statusCode = code;
      return this;
    },
    setHeader(name, value) {
      this.headers[name] = value;
    },
    type(value) {
      this.headers['Content-Type'] = value;
      return this;
    },
  };
}

function setUp(claim: IdempotencyClaim, checks: IdempotencyCheck[] = [{ kind: 'claimable' }]) {
  const check = jest.fn();
  for (const checked of checks) {
    check.mockResolvedValueOnce(checked);
  }
  const service = {
    claim: jest.fn().mockResolvedValue(claim),
    complete: jest.fn().mockResolvedValue('stored'),
    activateClaim: jest.fn(),
    check,
    defer: jest.fn(),
    activeClaim: jest.fn().mockReturnValue(undefined),
    storedWithin: jest.fn().mockReturnValue(false),
  };
  const context = { requireTenantId: () => TENANT_ID } as unknown as RequestContext;
  const interceptor = new IdempotencyInterceptor(new Reflector(), service as unknown as IdempotencyService, context);

  return { service, interceptor };
}

function executionContext(headers: Record<string, string>, body: unknown, response: FakeResponse, route: 'charge' | 'refund' = 'charge'): ExecutionContextHost {
  const path = route === 'charge' ? '/things/t1/charges' : '/things/t1/refunds';
  const request = { method: 'POST', baseUrl: '', path, headers, body, params: { id: 't1' }, query: {} };
  const host = new ExecutionContextHost([request, response, () => undefined], ThingsController, ThingsController.prototype[route]);
  host.setType('http');

  return host;
}

function handler(result: () => unknown): CallHandler & { handle: jest.Mock } {
  return { handle: jest.fn(() => result()) } as never;
}

describe('IdempotencyInterceptor', () => {
  beforeAll(() => Logger.overrideLogger(false));

  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));

  it('passes a request without the header straight through', async () => {
    const { interceptor, service } = setUp(CLAIMED);
    const next = handler(() => of({ ok: true }));

    const result = await lastValueFrom(await interceptor.intercept(executionContext({}, { amount: 5 }, fakeResponse()), next));

    expect(result).toEqual({ ok: true });
    expect(service.claim).not.toHaveBeenCalled();
  });

  it('claims the scoped key with the body hash', async () => {
    const { interceptor, service } = setUp(CLAIMED);

    await lastValueFrom(await interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, fakeResponse()), handler(() => of({}))));

    expect(service.claim).toHaveBeenCalledWith(
      { tenantId: TENANT_ID, method: 'POST', path: '/things/t1/charges', key: 'k1' },
      requestBodyHash({ amount: 5 }),
      30,
    );
  });

  it('stores a success with the response status and body', async () => {
    const { interceptor, service } = setUp(CLAIMED);
    const createdAt = new Date('2026-12-04T19:35:00.000Z');

    await lastValueFrom(await interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, fakeResponse(201)), handler(() => of({ createdAt }))));

    expect(service.complete).toHaveBeenCalledWith(CLAIMED, 201, { createdAt: '2026-12-04T19:35:00.000Z' }, undefined);
  });

  it('activates the claimed key for the services', async () => {
    const { interceptor, service } = setUp(CLAIMED);

    await lastValueFrom(await interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, fakeResponse()), handler(() => of({}))));

    expect(service.activateClaim).toHaveBeenCalledWith(CLAIMED, 201);
  });

  it('completes a domain error with its problem details and rethrows it', async () => {
    const { interceptor, service } = setUp(CLAIMED);
    const declined = new DomainError('card_declined', 'The card was declined.', { extensions: { paymentId: 'p1' } });

    const observable = await interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, fakeResponse()), handler(() => throwError(() => declined)));

    await expect(lastValueFrom(observable)).rejects.toBe(declined);
    expect(service.complete).toHaveBeenCalledWith(CLAIMED, 402, expect.objectContaining({ code: 'card_declined', paymentId: 'p1', status: 402 }), 'card_declined');
  });

  it('completes an unknown error as a 500', async () => {
    const { interceptor, service } = setUp(CLAIMED);
    const crash = new Error('boom');

    const observable = await interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, fakeResponse()), handler(() => throwError(() => crash)));

    await expect(lastValueFrom(observable)).rejects.toBe(crash);
    expect(service.complete).toHaveBeenCalledWith(CLAIMED, 500, undefined, undefined);
  });

  it('replays a stored response without running the handler', async () => {
    const { interceptor } = setUp({ kind: 'replay', status: 201, body: { id: 'p1' } });
    const response = fakeResponse(201);
    const next = handler(() => of({ id: 'other' }));

    const result = await lastValueFrom(await interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, response), next));

    expect(result).toEqual({ id: 'p1' });
    expect(next.handle).not.toHaveBeenCalled();
    expect(response.headers['Idempotent-Replayed']).toBe('true');
  });

  it('replays a stored error with its status as problem details', async () => {
    const { interceptor } = setUp({ kind: 'replay', status: 402, body: { code: 'card_declined' } });
    const response = fakeResponse(201);

    await lastValueFrom(await interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, response), handler(() => of({}))));

    expect(response.statusCode).toBe(402);
    expect(response.headers['Content-Type']).toBe('application/problem+json');
  });

  it('answers idempotency_key_reused for another body', async () => {
    const { interceptor } = setUp({ kind: 'reused' });

    await expect(interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 6 }, fakeResponse()), handler(() => of({})))).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
  });

  it('answers idempotency_key_in_use with Retry-After', async () => {
    const { interceptor } = setUp({ kind: 'in_use' });

    await expect(interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, fakeResponse()), handler(() => of({})))).rejects.toMatchObject({
      code: 'idempotency_key_in_use',
      headers: { 'Retry-After': '2' },
    });
  });

  it('names when a stalled key frees at the latest', async () => {
    const { interceptor } = setUp({ kind: 'in_use', leaseSecondsLeft: 100 });

    const rejected = interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, fakeResponse()), handler(() => of({})));

    await expect(rejected).rejects.toMatchObject({ code: 'idempotency_key_in_use', headers: { 'Retry-After': '2' } });
    await expect(rejected).rejects.toHaveProperty(
      'message',
      'A request with this Idempotency-Key is still running. Retry after 2 seconds. If that request stopped before it finished, the key is free again within 100 seconds.',
    );
  });

  it('retries no later than the lease ends', async () => {
    const { interceptor } = setUp({ kind: 'in_use', leaseSecondsLeft: 1 });

    await expect(interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 5 }, fakeResponse()), handler(() => of({})))).rejects.toMatchObject({
      headers: { 'Retry-After': '1' },
    });
  });

  it('answers 400 before idempotency_key_reused for an invalid body', async () => {
    const { interceptor } = setUp({ kind: 'reused' });

    await expect(interceptor.intercept(executionContext({ 'idempotency-key': 'k1' }, { amount: 0 }, fakeResponse()), handler(() => of({})))).rejects.toMatchObject({
      code: 'validation_failed',
      errors: [{ field: 'amount', message: 'must be at least 1' }],
    });
  });

  it('rejects an invalid header before claiming', async () => {
    const { interceptor, service } = setUp(CLAIMED);

    await expect(interceptor.intercept(executionContext({ 'idempotency-key': '' }, { amount: 5 }, fakeResponse()), handler(() => of({})))).rejects.toMatchObject({
      code: 'validation_failed',
      errors: [{ field: 'Idempotency-Key', message: 'must be 1 to 255 characters long' }],
    });
    expect(service.claim).not.toHaveBeenCalled();
  });

  describe('with the claim left to the handler', () => {
    const KEY_HEADER = { 'idempotency-key': 'k1' };

    it('defers the claim of a free key to the handler', async () => {
      const { interceptor, service } = setUp(CLAIMED);

      await lastValueFrom(await interceptor.intercept(executionContext(KEY_HEADER, { amount: 5 }, fakeResponse(201), 'refund'), handler(() => of({}))));

      expect(service.claim).not.toHaveBeenCalled();
      expect(service.check).not.toHaveBeenCalled();
      expect(service.defer).toHaveBeenCalledWith({
        scope: { tenantId: TENANT_ID, method: 'POST', path: '/things/t1/refunds', key: 'k1' },
        requestHash: requestBodyHash({ amount: 5 }),
        leaseSeconds: 30,
        status: 201,
      });
    });

    it('stores the response of a handler that claimed the key', async () => {
      const { interceptor, service } = setUp(CLAIMED);
      service.activeClaim.mockReturnValue(CLAIMED);

      await lastValueFrom(await interceptor.intercept(executionContext(KEY_HEADER, { amount: 5 }, fakeResponse(201), 'refund'), handler(() => of({ id: 'r1' }))));

      expect(service.complete).toHaveBeenCalledWith(CLAIMED, 201, { id: 'r1' }, undefined);
    });

    it('skips the store when the handler stored the response', async () => {
      const { interceptor, service } = setUp(CLAIMED);
      service.activeClaim.mockReturnValue(CLAIMED);
      service.storedWithin.mockReturnValue(true);

      await lastValueFrom(await interceptor.intercept(executionContext(KEY_HEADER, { amount: 5 }, fakeResponse(201), 'refund'), handler(() => of({ id: 'r1' }))));

      expect(service.storedWithin).toHaveBeenCalledWith({ id: 'r1' });
      expect(service.complete).not.toHaveBeenCalled();
    });

    it('stores nothing when the handler fails before claiming', async () => {
      const { interceptor, service } = setUp(CLAIMED);
      const crash = new Error('boom');

      const observable = await interceptor.intercept(executionContext(KEY_HEADER, { amount: 5 }, fakeResponse(), 'refund'), handler(() => throwError(() => crash)));

      await expect(lastValueFrom(observable)).rejects.toBe(crash);
      expect(service.complete).not.toHaveBeenCalled();
    });

    it('replays a stored response over an error before claiming', async () => {
      const { interceptor, service } = setUp(CLAIMED, [{ kind: 'replay', status: 201, body: { id: 'r1' } }]);
      const notConnected = new DomainError('stripe_not_connected', 'Connect Stripe first.');
      const response = fakeResponse(201);

      const observable = await interceptor.intercept(executionContext(KEY_HEADER, { amount: 5 }, response, 'refund'), handler(() => throwError(() => notConnected)));

      await expect(lastValueFrom(observable)).resolves.toEqual({ id: 'r1' });
      expect(response.headers['Idempotent-Replayed']).toBe('true');
      expect(service.complete).not.toHaveBeenCalled();
    });

    it('returns the handler error when the key row check fails', async () => {
      const { interceptor, service } = setUp(CLAIMED, []);
      service.check.mockRejectedValue(new Error('connection lost'));
      const notConnected = new DomainError('stripe_not_connected', 'Connect Stripe first.');

      const observable = await interceptor.intercept(executionContext(KEY_HEADER, { amount: 5 }, fakeResponse(), 'refund'), handler(() => throwError(() => notConnected)));

      await expect(lastValueFrom(observable)).rejects.toBe(notConnected);
    });

    it('completes an error after the handler claimed', async () => {
      const { interceptor, service } = setUp(CLAIMED);
      service.activeClaim.mockReturnValue(CLAIMED);
      const declined = new DomainError('card_declined', 'The card was declined.');

      const observable = await interceptor.intercept(executionContext(KEY_HEADER, { amount: 5 }, fakeResponse(), 'refund'), handler(() => throwError(() => declined)));

      await expect(lastValueFrom(observable)).rejects.toBe(declined);
      expect(service.complete).toHaveBeenCalledWith(CLAIMED, 402, expect.objectContaining({ code: 'card_declined' }), 'card_declined');
    });

    it('replays a stored response when the claim finds it', async () => {
      const { interceptor, service } = setUp(CLAIMED, [{ kind: 'replay', status: 201, body: { id: 'r1' } }]);
      const response = fakeResponse(201);

      const result = await lastValueFrom(
        await interceptor.intercept(executionContext(KEY_HEADER, { amount: 5 }, response, 'refund'), handler(() => throwError(() => new IdempotencyClaimLostError()))),
      );

      expect(result).toEqual({ id: 'r1' });
      expect(service.check).toHaveBeenCalledTimes(1);
      expect(response.headers['Idempotent-Replayed']).toBe('true');
      expect(service.complete).not.toHaveBeenCalled();
    });

    it('answers in_use for a key running elsewhere', async () => {
      const { interceptor } = setUp(CLAIMED, [{ kind: 'in_use' }]);

      const observable = await interceptor.intercept(
        executionContext(KEY_HEADER, { amount: 5 }, fakeResponse(), 'refund'),
        handler(() => throwError(() => new IdempotencyClaimLostError())),
      );

      await expect(lastValueFrom(observable)).rejects.toMatchObject({ code: 'idempotency_key_in_use' });
    });

    it('answers 400 before idempotency_key_reused for an invalid body', async () => {
      const { interceptor } = setUp(CLAIMED, [{ kind: 'reused' }]);

      const observable = await interceptor.intercept(
        executionContext(KEY_HEADER, { amount: 0 }, fakeResponse(), 'refund'),
        handler(() => throwError(() => new IdempotencyClaimLostError())),
      );

      await expect(lastValueFrom(observable)).rejects.toMatchObject({ code: 'validation_failed' });
    });

    it('answers in_use when the lost key is free again', async () => {
      const { interceptor, service } = setUp(CLAIMED, [{ kind: 'claimable' }]);

      const observable = await interceptor.intercept(
        executionContext(KEY_HEADER, { amount: 5 }, fakeResponse(), 'refund'),
        handler(() => throwError(() => new IdempotencyClaimLostError())),
      );

      await expect(lastValueFrom(observable)).rejects.toMatchObject({ code: 'idempotency_key_in_use' });
      expect(service.complete).not.toHaveBeenCalled();
    });
  });
});
