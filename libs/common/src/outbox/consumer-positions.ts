import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** An earlier event of an aggregate, as the ordering check needs it. */
export interface PreviousEvent {
  messageId: string;
  sequence: number;
  /** Whether the relay has put it on the queue. */
  published: boolean;
}

/**
 * The last aggregate sequence each consumer applied, per aggregate
 * (consumer_aggregate_positions), and the outbox reads that tell a consumer
 * whether an earlier event it listens to is still missing.
 */
@Injectable()
export class ConsumerPositions {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The last sequence `consumer` applied for the aggregate, 0 when none. */
  async position(consumer: string, tenantId: string, aggregateId: string): Promise<number> {
    const rows: { last_sequence: string }[] = await this.dataSource.query(
      `SELECT last_sequence FROM consumer_aggregate_positions WHERE consumer = $1 AND tenant_id = $2 AND aggregate_id = $3`,
      [consumer, tenantId, aggregateId],
    );

    return rows.length === 0 ? 0 : Number(rows[0].last_sequence);
  }

  /**
   * The aggregate's latest event before `sequence` whose name is one of
   * `eventNames`, or null when there is none: the event a consumer of those
   * names applies first.
   */
  async previousEvent(tenantId: string, aggregateId: string, sequence: number, eventNames: readonly string[]): Promise<PreviousEvent | null> {
    const rows: { id: string; aggregate_sequence: string; published: boolean }[] = await this.dataSource.query(
      `SELECT id, aggregate_sequence, published_at IS NOT NULL AS published
         FROM outbox_events
        WHERE tenant_id = $1 AND aggregate_id = $2 AND aggregate_sequence < $3 AND event_name = ANY($4::text[])
        ORDER BY aggregate_sequence DESC
        LIMIT 1`,
      [tenantId, aggregateId, sequence, [...eventNames]],
    );
    if (rows.length === 0) {
      return null;
    }

    return { messageId: rows[0].id, sequence: Number(rows[0].aggregate_sequence), published: rows[0].published };
  }

  /** Record that `consumer` applied `sequence`; a lower number never replaces a higher one. */
  async advance(consumer: string, tenantId: string, aggregateId: string, sequence: number): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO consumer_aggregate_positions (consumer, tenant_id, aggregate_id, last_sequence)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (consumer, tenant_id, aggregate_id)
       DO UPDATE SET last_sequence = GREATEST(consumer_aggregate_positions.last_sequence, EXCLUDED.last_sequence), updated_at = now()`,
      [consumer, tenantId, aggregateId, sequence],
    );
  }
}
