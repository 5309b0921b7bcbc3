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

  /**
   * Read the last sequence each consumer applied for each aggregate of `keys`,
   * in one statement, for one tenant. A key missing from the result has
   * applied none.
   */
  async positionsOf(tenantId: string, keys: readonly PositionKey[]): Promise<Map<string, number>> {
    const positions = new Map<string, number>();
    if (keys.length === 0) {
      return positions;
    }

    const rows: { consumer: string; aggregate_id: string; last_sequence: string }[] = await this.dataSource.query(
      `SELECT p.consumer, p.aggregate_id, p.last_sequence
         FROM consumer_aggregate_positions p
         JOIN unnest($2::text[], $3::text[]) AS k(consumer, aggregate_id) ON p.consumer = k.consumer AND p.aggregate_id = k.aggregate_id
        WHERE p.tenant_id = $1`,
      [tenantId, keys.map((key) => key.consumer), keys.map((key) => key.aggregateId)],
    );
    for (const row of rows) {
      positions.set(positionKey(row.consumer, row.aggregate_id), Number(row.last_sequence));
    }

    return positions;
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

  /**
   * Record, in one statement, the sequences consumers applied for aggregates
   * of one tenant. A lower number never replaces a higher one, and a key named
   * more than once keeps its highest.
   */
  async advanceAll(tenantId: string, advances: readonly PositionAdvance[]): Promise<void> {
    const highest = new Map<string, PositionAdvance>();
    for (const advance of advances) {
      const key = positionKey(advance.consumer, advance.aggregateId);
      if ((highest.get(key)?.sequence ?? -1) < advance.sequence) {
        highest.set(key, advance);
      }
    }
    if (highest.size === 0) {
      return;
    }

    // ON CONFLICT may change each row once per statement, hence one entry per key.
    const rows = [...highest.values()];
    await this.dataSource.query(
      `INSERT INTO consumer_aggregate_positions (consumer, tenant_id, aggregate_id, last_sequence)
       SELECT a.consumer, $1::uuid, a.aggregate_id, a.last_sequence FROM unnest($2::text[], $3::text[], $4::bigint[]) AS a(consumer, aggregate_id, last_sequence)
       ON CONFLICT (consumer, tenant_id, aggregate_id)
       DO UPDATE SET last_sequence = GREATEST(consumer_aggregate_positions.last_sequence, EXCLUDED.last_sequence), updated_at = now()`,
      [tenantId, rows.map((row) => row.consumer), rows.map((row) => row.aggregateId), rows.map((row) => row.sequence)],
    );
  }
}

/** A consumer and one of its aggregates. */
export interface PositionKey {
  consumer: string;
  aggregateId: string;
}

export interface PositionAdvance extends PositionKey {
  sequence: number;
}

/** The key of a consumer's position for an aggregate in the map positionsOf returns. */
export function positionKey(consumer: string, aggregateId: string): string {
  return `${consumer}\u0000${aggregateId}`;
}
