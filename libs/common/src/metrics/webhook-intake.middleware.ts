import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { recordWebhookIntake, WebhookIntakeOutcome } from './metrics';

// A property on the request object, set by the intake when a delivery was
// already stored. A symbol, so it cannot collide with Express's own fields.
const DUPLICATE_DELIVERY = Symbol.for('billing.webhookIntake.duplicate');

/** Outcomes of the error statuses the webhook route returns (the table in docs/api.md). */
const OUTCOME_BY_STATUS: Readonly<Record<number, WebhookIntakeOutcome>> = {
  400: 'signature_invalid',
  404: 'not_found',
  413: 'payload_too_large',
  429: 'rate_limited',
};

/** Marks the request as a delivery the inbox already had, so it is counted as `duplicate` instead of `accepted`. */
export function markDuplicateWebhookDelivery(request: object): void {
  (request as Record<symbol, unknown>)[DUPLICATE_DELIVERY] = true;
}

/**
 * Returns the intake outcome of a response status: 2xx is `accepted` or
 * `duplicate`, 5xx is `unavailable`, and 400, 404, 413 and 429 have their own
 * outcome. Returns undefined for any other status.
 */
export function webhookIntakeOutcome(status: number, duplicate: boolean): WebhookIntakeOutcome | undefined {
  if (status >= 200 && status < 300) {
    return duplicate ? 'duplicate' : 'accepted';
  }
  if (status >= 500) {
    return 'unavailable';
  }

  return OUTCOME_BY_STATUS[status];
}

/**
 * Express middleware for the webhook route that records
 * billing_webhook_intake_total and billing_webhook_intake_duration_seconds
 * when the response is sent. Mounted before the body parser, it also counts
 * the 413 that the parser sends for an oversized body and includes the time
 * spent reading the body.
 * NOTE: a delivery whose client disconnects before the response is sent, or
 * whose status has no outcome (such as 405), is not recorded.
 */
export function webhookIntakeMetrics(): RequestHandler {
  return (request: Request, response: Response, next: NextFunction) => {
    const startedAt = process.hrtime.bigint();
    response.once('finish', () => {
      const duplicate = (request as unknown as Record<symbol, unknown>)[DUPLICATE_DELIVERY] === true;
      const outcome = webhookIntakeOutcome(response.statusCode, duplicate);
      if (outcome !== undefined) {
        recordWebhookIntake(outcome, Number(process.hrtime.bigint() - startedAt) / 1e9);
      }
    });
    next();
  };
}
