import { queryThrough } from '../database/prepared-query';
import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { SqlParameters } from '../database/sql-parameters';

/** One row per (consumer, outbox message) handled, so a redelivered event has no second effect. */
@Entity({ name: 'processed_messages' })
export class ProcessedMessageEntity {
  @PrimaryColumn({ type: 'text' })
  consumer!: string;

  @PrimaryColumn({ name: 'message_id', type: 'uuid' })
  messageId!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @CreateDateColumn({ name: 'processed_at', type: 'timestamptz' })
  processedAt!: Date;
}

/**
 * Claim a message for a consumer inside the consumer's own transaction. Returns
 * false when it was already processed; the claim rolls back with the
 * transaction if the handler fails, so a retry can claim it again.
 */
export async function claimMessage(
  manager: import('typeorm').EntityManager,
  consumer: string,
  messageId: string,
  tenantId: string,
): Promise<boolean> {
  const parameters = new SqlParameters();
  const rows = await queryThrough<unknown>(
    manager,
    `WITH ${claimMessageExpression(parameters, consumer, messageId, tenantId)} SELECT message_id FROM message_claim`,
    parameters.values,
  );

  return rows.length === 1;
}

/**
 * Writes the common table expression `message_claim`, which claims a message
 * for a consumer as part of the caller's statement and returns one row when
 * the claim is new, none when the consumer already processed the message. A
 * consumer whose own write fits in the same statement commits both at once.
 */
export function claimMessageExpression(parameters: SqlParameters, consumer: string, messageId: string, tenantId: string): string {
  return `message_claim AS (
         INSERT INTO processed_messages (consumer, message_id, tenant_id)
         VALUES (${parameters.add(consumer, 'text')}, ${parameters.add(messageId, 'uuid')}, ${parameters.add(tenantId, 'uuid')})
         ON CONFLICT DO NOTHING RETURNING message_id
       )`;
}
