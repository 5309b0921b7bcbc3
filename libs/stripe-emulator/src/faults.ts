/**
 * `500` and `429` respond with Stripe's error. `timeout` holds the request without carrying it
 * out. `lost_response` carries the request out (and stores its idempotent result) but holds the
 * response, like a network that drops Stripe's response.
 */
export const FAULT_KINDS = ['500', 'timeout', '429', 'lost_response'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Faults injected into the next `/v1` requests, in the order they were added. Each request,
 * including a client's automatic retry, uses up one. A fault added for one account is taken only
 * by that account's requests, so another tenant's background calls cannot use it up first.
 */
export class FaultQueue {
  private readonly pending: { kind: FaultKind; remaining: number; accountId: string | null }[] = [];

  add(kind: FaultKind, count: number, accountId: string | null = null): void {
    if (count > 0) {
      this.pending.push({ kind, remaining: count, accountId });
    }
  }

  clear(): void {
    this.pending.length = 0;
  }

  /** Returns the fault a request of `accountId` (null when its key is unknown) must suffer, if any, and uses it up. */
  take(accountId: string | null): FaultKind | undefined {
    const index = this.pending.findIndex((fault) => fault.accountId === null || fault.accountId === accountId);
    if (index === -1) {
      return undefined;
    }
    const next = this.pending[index];
    next.remaining -= 1;
    if (next.remaining === 0) {
      this.pending.splice(index, 1);
    }
    return next.kind;
  }
}
