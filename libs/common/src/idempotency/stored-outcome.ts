/**
 * Decides whether a response is an outcome of the operation itself, which is
 * stored and replayed for the same key, or a condition a retry may mend,
 * which releases the key. Stored: every 2xx, 402 (a declined card), and the
 * business refusals `409 invalid_state` and `422 refund_exceeds_payment`.
 * Everything else is released: 400, 401, 403, 404, 429, 5xx, and the
 * connection errors `409 stripe_not_connected`, `422 stripe_keys_invalid`
 * and `422 stripe_permission_missing`.
 */
export function isStoredOutcome(status: number, code: string | undefined): boolean {
  if (status >= 200 && status < 300) {
    return true;
  }
  if (status === 402) {
    return true;
  }

  return (status === 409 && code === 'invalid_state') || (status === 422 && code === 'refund_exceeds_payment');
}
