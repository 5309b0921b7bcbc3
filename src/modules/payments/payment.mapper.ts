import { PaymentResponse } from './dto/payment.response';
import type { PaymentEntity } from './payment.entity';

/** Builds the response body field by field, so no stored column leaks by accident. */
export function toPaymentResponse(payment: PaymentEntity): PaymentResponse {
  const requiresAction = payment.status === 'requires_action';

  return {
    id: payment.id,
    status: payment.status,
    amount: payment.amount,
    amountRefunded: payment.amountRefunded,
    currency: payment.currency,
    description: payment.description,
    receiptEmail: payment.receiptEmail,
    receiptUrl: payment.receiptUrl,
    livemode: payment.livemode,
    stripePaymentIntentId: payment.stripePaymentIntentId,
    failureCode: payment.failureCode,
    declineCode: payment.declineCode,
    clientSecret: requiresAction ? payment.clientSecret : null,
    nextAction: requiresAction ? payment.nextAction : null,
    invoiceId: payment.invoiceId,
    createdAt: payment.createdAt.toISOString(),
    updatedAt: payment.updatedAt.toISOString(),
  };
}
