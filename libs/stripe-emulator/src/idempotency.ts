import { idempotencyEndpointMismatch, idempotencyParametersMismatch } from './errors';

// Stripe removes idempotency keys once they are at least 24 hours old (docs.stripe.com/api/idempotent_requests).
const RETENTION_MS = 24 * 60 * 60 * 1000;

// Stripe accepts idempotency keys of up to 255 characters.
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

export interface StoredResponse {
  statusCode: number;
  body: unknown;
  requestId: string;
}

interface Entry {
  endpoint: string;
  fingerprint: string;
  response: StoredResponse;
  storedAt: number;
}

/** Results of idempotent POSTs by account, mode and key, replayed for retries with the same parameters. */
export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  /**
   * Returns the stored response for a retry, or undefined for a first request. Raises Stripe's
   * idempotency_error when the key was used for another endpoint or other parameters.
   */
  lookup(scopeKey: string, idempotencyKey: string, endpoint: string, fingerprint: string): StoredResponse | undefined {
    const entry = this.entries.get(`${scopeKey}\n${idempotencyKey}`);
    if (!entry || Date.now() - entry.storedAt > RETENTION_MS) {
      return undefined;
    }
    if (entry.endpoint !== endpoint) {
      throw idempotencyEndpointMismatch(idempotencyKey, entry.endpoint, endpoint);
    }
    if (entry.fingerprint !== fingerprint) {
      throw idempotencyParametersMismatch(idempotencyKey);
    }
    return entry.response;
  }

  save(
    scopeKey: string,
    idempotencyKey: string,
    endpoint: string,
    fingerprint: string,
    response: StoredResponse,
  ): void {
    this.pruneExpired();
    const key = `${scopeKey}\n${idempotencyKey}`;
    // Re-inserting moves the key to the end, keeping the map ordered by storage time.
    this.entries.delete(key);
    this.entries.set(key, { endpoint, fingerprint, response, storedAt: Date.now() });
  }

  // Map iteration follows insertion order, so expired entries sit at the front.
  private pruneExpired(): void {
    const cutoff = Date.now() - RETENTION_MS;
    for (const [key, entry] of this.entries) {
      if (entry.storedAt >= cutoff) {
        return;
      }
      this.entries.delete(key);
    }
  }
}
