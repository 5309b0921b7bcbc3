import { DomainEvent } from '@app/common/events/domain-event';

export interface PaymentSucceededPayload {
  paymentId: string;
  amount: number;
  currency: string;
  livemode: boolean;
  description: string | null;
  receiptEmail: string | null;
  customerId: string | null;
  stripePaymentIntentId: string;
  /** ISO time Stripe reported the success (the intent's charge), used for the invoice date. */
  succeededAt: string;
}

export class PaymentSucceededEvent extends DomainEvent<PaymentSucceededPayload> {
  static override readonly eventName = 'payments.payment_succeeded';
}

export class PaymentFailedEvent extends DomainEvent<{
  paymentId: string;
  amount: number;
  currency: string;
  failureCode: string | null;
  declineCode: string | null;
}> {
  static override readonly eventName = 'payments.payment_failed';
}

export class PaymentRefundedEvent extends DomainEvent<{
  paymentId: string;
  refundId: string;
  amount: number;
  amountRefunded: number;
  currency: string;
}> {
  static override readonly eventName = 'payments.payment_refunded';
}
