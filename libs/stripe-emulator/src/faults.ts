/**
 * `500` and `429` respond with Stripe's error. `timeout` holds the request without carrying it
 * out. `lost_response` carries the request out (and stores its idempotent result) but holds the
 * response, like a network that drops Stripe's response.
 */
export const FAULT_KINDS = ['500', 'timeout', '429', 'lost_response'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Faults injected into the next `/v1` requests, in the order they were added. Each request,
 * including a client's automatic retry, uses up one.
 */
export class FaultQueue {
  private readonly pending: { kind: FaultKind; remaining: number }[] = [];

  add(kind: FaultKind, count: number): void {
    if (count > 0) {
      this.pending.push({ kind, remaining: count });
    }
  }

  clear(): void {
    this.pending.length = 0;
  }

  /** Returns the fault the next request must suffer, if any, and uses it up. */
  take(): FaultKind | undefined {
    const next = this.pending[0];
    if (!next) {
      return undefined;
    }
    next.remaining -= 1;
    if (next.remaining === 0) {
      this.pending.shift();
    }
    return next.kind;
  }
}
