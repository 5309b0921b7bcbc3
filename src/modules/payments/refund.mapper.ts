import { RefundResponse } from './dto/refund.response';
import type { RefundEntity } from './refund.entity';

/** Builds the response body field by field, so no stored column leaks by accident. */
export function toRefundResponse(refund: RefundEntity): RefundResponse {
  return {
    id: refund.id,
    paymentId: refund.paymentId,
    amount: refund.amount,
    currency: refund.currency,
    status: refund.status,
    reason: refund.reason,
    stripeRefundId: refund.stripeRefundId,
    failureReason: refund.failureReason,
    origin: refund.origin,
    createdAt: refund.createdAt.toISOString(),
  };
}
