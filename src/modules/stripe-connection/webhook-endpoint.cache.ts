import type { UndecryptableEndpointSecret } from '@app/contracts/stripe-connection.contracts';
import { Injectable } from '@nestjs/common';
import type { StripeConnectionEntity } from './stripe-connection.entity';

/**
 * How long a resolved webhook token is reused without reading the database.
 * Changes made in this process take effect at once. Another api process keeps
 * verifying against the replaced secrets for at most this long, and Stripe
 * retries a delivery rejected meanwhile.
 */
export const WEBHOOK_ENDPOINT_CACHE_TTL_MS = 5_000;
/** Maximum number of tokens kept; the oldest entry is dropped first. */
const MAX_ENTRIES = 10_000;

/** A token resolved to its connection and decrypted endpoint secrets. */
export interface ResolvedEndpoint {
  connection: StripeConnectionEntity;
  /** Newest first: the current endpoint's secret, then the retired one until its kept-until time. */
  secrets: string[];
  /** The stored secrets that did not decrypt, left out of `secrets`. */
  undecryptable: UndecryptableEndpointSecret[];
}

interface Entry {
  value: ResolvedEndpoint;
  expiresAt: number;
}

/**
 * Resolved webhook tokens, kept a few seconds so intake does not read and
 * decrypt the connection on every delivery. Every write to a connection
 * invalidates its tenant's entries and, for one TTL, keeps new reads out of
 * the cache: the write's transaction may not have committed yet, and a read
 * in between would cache the old row.
 */
@Injectable()
export class WebhookEndpointCache {
  private readonly entries = new Map<string, Entry>();
  private readonly tenantsChangedUntil = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  get(token: string): ResolvedEndpoint | undefined {
    const entry = this.entries.get(token);
    if (!entry) {
      return undefined;
    }

    if (entry.expiresAt <= this.now() || this.recentlyChanged(entry.value.connection.tenantId)) {
      this.entries.delete(token);

      return undefined;
    }

    return entry.value;
  }

  set(token: string, value: ResolvedEndpoint): void {
    if (this.recentlyChanged(value.connection.tenantId)) {
      return;
    }

    this.entries.delete(token);
    this.entries.set(token, { value, expiresAt: this.now() + WEBHOOK_ENDPOINT_CACHE_TTL_MS });
    if (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) {
        this.entries.delete(oldest);
      }
    }
  }

  /** Forget a tenant's tokens and stop caching them for one TTL; called on every write to its connection. */
  invalidateTenant(tenantId: string): void {
    this.tenantsChangedUntil.set(tenantId, this.now() + WEBHOOK_ENDPOINT_CACHE_TTL_MS);
    for (const [token, entry] of this.entries) {
      if (entry.value.connection.tenantId === tenantId) {
        this.entries.delete(token);
      }
    }
  }

  private recentlyChanged(tenantId: string): boolean {
    const until = this.tenantsChangedUntil.get(tenantId);
    if (until === undefined) {
      return false;
    }

    if (until <= this.now()) {
      this.tenantsChangedUntil.delete(tenantId);

      return false;
    }

    return true;
  }
}
