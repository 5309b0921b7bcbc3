import { StripeConnectionEntity } from './stripe-connection.entity';
import { ResolvedEndpoint, WEBHOOK_ENDPOINT_CACHE_TTL_MS, WebhookEndpointCache } from './webhook-endpoint.cache';

function resolved(tenantId: string, secret = 'whsec_one'): ResolvedEndpoint {
  return { connection: { tenantId } as StripeConnectionEntity, secrets: [secret], undecryptable: [] };
}

describe('WebhookEndpointCache', () => {
  let now: number;
  let cache: WebhookEndpointCache;

  beforeEach(() => {
    now = 1_000_000;
    cache = new WebhookEndpointCache(() => now);
  });

  it('returns a token resolved moments ago', () => {
    cache.set('wh_a', resolved('tenant-a'));

    expect(cache.get('wh_a')?.secrets).toEqual(['whsec_one']);
  });

  it('forgets a token after the TTL', () => {
    cache.set('wh_a', resolved('tenant-a'));
    now += WEBHOOK_ENDPOINT_CACHE_TTL_MS;

    expect(cache.get('wh_a')).toBeUndefined();
  });

  it('forgets a tenant whose connection changed', () => {
    cache.set('wh_a', resolved('tenant-a'));
    cache.invalidateTenant('tenant-a');

    expect(cache.get('wh_a')).toBeUndefined();
  });

  it('keeps other tenants after a change', () => {
    cache.set('wh_b', resolved('tenant-b'));
    cache.invalidateTenant('tenant-a');

    expect(cache.get('wh_b')).toBeDefined();
  });

  it('does not cache a read made right after a change', () => {
    cache.invalidateTenant('tenant-a');
    cache.set('wh_a', resolved('tenant-a', 'whsec_old'));

    expect(cache.get('wh_a')).toBeUndefined();
  });

  it('caches again once the change is a TTL old', () => {
    cache.invalidateTenant('tenant-a');
    now += WEBHOOK_ENDPOINT_CACHE_TTL_MS;
    cache.set('wh_a', resolved('tenant-a', 'whsec_new'));

    expect(cache.get('wh_a')?.secrets).toEqual(['whsec_new']);
  });
});
