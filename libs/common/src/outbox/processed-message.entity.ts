import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

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
  const rows: unknown[] = await manager.query(
    `INSERT INTO processed_messages (consumer, message_id, tenant_id) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING RETURNING message_id`,
    [consumer, messageId, tenantId],
  );

  return rows.length === 1;
}
