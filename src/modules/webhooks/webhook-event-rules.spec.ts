import { combineOutcomes, handlerConnectionOf, reasonToIgnoreBeforeDispatch } from './webhook-event-rules';

const TEST_CONNECTION = { mode: 'test' as const, accountId: 'acct_1' };
const LIVE_CONNECTION = { mode: 'live' as const, accountId: 'acct_1' };

describe('handlerConnectionOf', () => {
  it('gives mode and account of a connected tenant', () => {
    expect(handlerConnectionOf({ status: 'connected', mode: 'test', accountId: 'acct_1' })).toEqual(TEST_CONNECTION);
  });

  it('keeps a connection in error', () => {
    expect(handlerConnectionOf({ status: 'error', mode: 'live', accountId: 'acct_1' })).toEqual(LIVE_CONNECTION);
  });

  it('is null for a disconnected tenant', () => {
    expect(handlerConnectionOf({ status: 'not_connected', mode: null, accountId: null })).toBeNull();
  });
});

describe('reasonToIgnoreBeforeDispatch', () => {
  it('dispatches a test event to a test connection', () => {
    expect(reasonToIgnoreBeforeDispatch({ livemode: false, verifiedBy: 'endpoint', connection: TEST_CONNECTION })).toBeNull();
  });

  it('dispatches a live event to a live connection', () => {
    expect(reasonToIgnoreBeforeDispatch({ livemode: true, verifiedBy: 'platform', connection: LIVE_CONNECTION })).toBeNull();
  });

  it('ignores a live event for a test connection', () => {
    expect(reasonToIgnoreBeforeDispatch({ livemode: true, verifiedBy: 'endpoint', connection: TEST_CONNECTION })).toBe('mode_mismatch');
  });

  it('ignores a test event for a live connection', () => {
    expect(reasonToIgnoreBeforeDispatch({ livemode: false, verifiedBy: 'endpoint', connection: LIVE_CONNECTION })).toBe('mode_mismatch');
  });

  it('ignores a platform-verified event after a disconnect', () => {
    expect(reasonToIgnoreBeforeDispatch({ livemode: false, verifiedBy: 'platform', connection: null })).toBe('tenant_disconnected');
  });

  it('dispatches an endpoint-verified event after a disconnect', () => {
    expect(reasonToIgnoreBeforeDispatch({ livemode: false, verifiedBy: 'endpoint', connection: null })).toBeNull();
  });
});

describe('combineOutcomes', () => {
  it('is processed when one handler processed the event', () => {
    expect(combineOutcomes([{ result: 'ignored', reason: 'unknown_object' }, { result: 'processed' }])).toEqual({ result: 'processed' });
  });

  it('is ignored with the first reason when every handler ignored the event', () => {
    expect(
      combineOutcomes([
        { result: 'ignored', reason: 'unknown_object' },
        { result: 'ignored', reason: 'foreign_object' },
      ]),
    ).toEqual({ result: 'ignored', reason: 'unknown_object' });
  });

  it('is processed for a single processed outcome', () => {
    expect(combineOutcomes([{ result: 'processed' }])).toEqual({ result: 'processed' });
  });
});
