import { isStoredOutcome } from './stored-outcome';

describe('isStoredOutcome', () => {
  it.each([
    [200, undefined],
    [201, undefined],
    [204, undefined],
    [402, 'card_declined'],
    [409, 'invalid_state'],
    [422, 'refund_exceeds_payment'],
  ])('stores %s %s', (status, code) => {
    expect(isStoredOutcome(status, code)).toBe(true);
  });

  it.each([
    [400, 'validation_failed'],
    [401, 'unauthenticated'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'stripe_not_connected'],
    [409, 'idempotency_key_in_use'],
    [422, 'stripe_keys_invalid'],
    [422, 'stripe_permission_missing'],
    [429, 'rate_limited'],
    [500, 'internal_error'],
    [502, 'stripe_unavailable'],
    [503, 'service_unavailable'],
  ])('releases %s %s', (status, code) => {
    expect(isStoredOutcome(status, code)).toBe(false);
  });
});
