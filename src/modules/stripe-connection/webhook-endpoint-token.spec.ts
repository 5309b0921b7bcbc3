import { generateWebhookEndpointToken, isWellFormedWebhookEndpointToken } from './webhook-endpoint-token';

describe('generateWebhookEndpointToken', () => {
  it('is wh_ and 24 base62 characters', () => {
    expect(generateWebhookEndpointToken()).toMatch(/^wh_[A-Za-z0-9]{24}$/);
  });

  it('differs between calls', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => generateWebhookEndpointToken()));

    expect(tokens.size).toBe(1000);
  });

  it('passes its own format check', () => {
    expect(isWellFormedWebhookEndpointToken(generateWebhookEndpointToken())).toBe(true);
  });
});

describe('isWellFormedWebhookEndpointToken', () => {
  it('rejects a token without the wh_ prefix', () => {
    expect(isWellFormedWebhookEndpointToken('3kTqV9sXnR2mLp8aZc4Yabcd')).toBe(false);
  });

  it('rejects a token of 19 random characters', () => {
    expect(isWellFormedWebhookEndpointToken(`wh_${'a'.repeat(19)}`)).toBe(false);
  });

  it('rejects a token with a path separator', () => {
    expect(isWellFormedWebhookEndpointToken(`wh_${'a'.repeat(20)}/x`)).toBe(false);
  });
});
