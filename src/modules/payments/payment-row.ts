import { SqlParameters } from '@app/common/database/sql-parameters';
import { PaymentEntity } from './payment.entity';
import type { PaymentChanges } from './payment-observation';
import type { PaymentStatus } from './payment-status';

/** A row of `payments` as node-postgres returns it from plain SQL: bigint as a string, timestamps as Date, jsonb parsed. */
export interface PaymentRow {
  id: string;
  tenant_id: string;
  status: PaymentStatus;
  amount: string;
  amount_refunded: string;
  currency: string;
  description: string | null;
  receipt_email: string | null;
  receipt_url: string | null;
  livemode: boolean;
  stripe_payment_intent_id: string | null;
  stripe_charge_id: string | null;
  failure_code: string | null;
  decline_code: string | null;
  client_secret: string | null;
  next_action: Record<string, unknown> | null;
  invoice_id: string | null;
  customer_id: string | null;
  metadata: Record<string, string>;
  idempotency_key_id: string | null;
  last_stripe_event_created: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Builds the entity TypeORM would load from a row read with plain SQL (`RETURNING *`). */
export function paymentFromRow(row: PaymentRow): PaymentEntity {
  return Object.assign(new PaymentEntity(), {
    id: row.id,
    tenantId: row.tenant_id,
    status: row.status,
    amount: Number(row.amount),
    amountRefunded: Number(row.amount_refunded),
    currency: row.currency,
    description: row.description,
    receiptEmail: row.receipt_email,
    receiptUrl: row.receipt_url,
    livemode: row.livemode,
    stripePaymentIntentId: row.stripe_payment_intent_id,
    stripeChargeId: row.stripe_charge_id,
    failureCode: row.failure_code,
    declineCode: row.decline_code,
    clientSecret: row.client_secret,
    nextAction: row.next_action,
    invoiceId: row.invoice_id,
    customerId: row.customer_id,
    metadata: row.metadata,
    idempotencyKeyId: row.idempotency_key_id,
    lastStripeEventCreated: row.last_stripe_event_created === null ? null : Number(row.last_stripe_event_created),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

/** Column and type of each field the update rule may change. */
const CHANGE_COLUMNS: Record<keyof PaymentChanges, { column: string; type: string }> = {
  status: { column: 'status', type: 'text' },
  stripePaymentIntentId: { column: 'stripe_payment_intent_id', type: 'text' },
  stripeChargeId: { column: 'stripe_charge_id', type: 'text' },
  receiptUrl: { column: 'receipt_url', type: 'text' },
  clientSecret: { column: 'client_secret', type: 'text' },
  nextAction: { column: 'next_action', type: 'jsonb' },
  failureCode: { column: 'failure_code', type: 'text' },
  declineCode: { column: 'decline_code', type: 'text' },
  lastStripeEventCreated: { column: 'last_stripe_event_created', type: 'bigint' },
};

/** Writes the SET list of `changes`, with updated_at set to the transaction's time as TypeORM's update sets it. */
export function changesSetSql(parameters: SqlParameters, changes: PaymentChanges): string {
  const assignments = Object.entries(changes).map(([field, value]) => {
    const { column, type } = CHANGE_COLUMNS[field as keyof PaymentChanges];
    const stored = type === 'jsonb' && value !== null ? JSON.stringify(value) : value;

    return `${column} = ${parameters.add(stored, type)}`;
  });

  return [...assignments, 'updated_at = now()'].join(', ');
}
