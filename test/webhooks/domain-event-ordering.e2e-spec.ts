import { rolesFor } from '@app/common/app-roles';
import { DomainEvent } from '@app/common/events/domain-event';
import { OnDomainEvent } from '@app/common/events/on-domain-event.decorator';
import { ConsumerPositions, positionKey } from '@app/common/outbox/consumer-positions';
import { claimMessage } from '@app/common/outbox/processed-message.entity';
import { OutboxWriter } from '@app/common/outbox/outbox.writer';
import { JOB_DELIVER_DOMAIN_EVENT, QUEUE_DOMAIN_EVENTS } from '@app/common/queues/queue-names';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { getQueueToken } from '@nestjs/bullmq';
import { INestApplicationContext, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { loadConfig } from '../../src/config/app-config';
import { uniqueSlug } from '../support/factories';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';
import { eventually, scopeTestCodeAcrossTenants } from '../support/test-app';

jest.setTimeout(60_000);

class ThingHappenedEvent extends DomainEvent<{ step: number }> {
  static override readonly eventName = 'test.thing_happened';
}

class OtherThingHappenedEvent extends DomainEvent<{ step: number }> {
  static override readonly eventName = 'test.other_thing_happened';
}

/**
 * Consumers that record the steps they applied per aggregate. `failNext`
 * makes a consumer throw once for a given aggregate and step, as a transient
 * error would, so BullMQ retries that job with backoff while later events of
 * the aggregate arrive.
 */
@Injectable()
class RecordingConsumers {
  readonly applied = new Map<string, number[]>();
  readonly calls = new Map<string, number>();
  private readonly failures = new Set<string>();

  constructor(private readonly dataSource: DataSource) {}

  failNext(consumer: string, aggregateId: string, step: number): void {
    this.failures.add(`${consumer}/${aggregateId}/${step}`);
  }

  appliedBy(consumer: string, aggregateId: string): number[] {
    return this.applied.get(`${consumer}/${aggregateId}`) ?? [];
  }

  callsOf(consumer: string, aggregateId: string): number {
    return this.calls.get(`${consumer}/${aggregateId}`) ?? 0;
  }

  @OnDomainEvent(ThingHappenedEvent, 'test.first')
  async first(event: ThingHappenedEvent, messageId: string): Promise<void> {
    await this.apply('test.first', event, messageId);
  }

  @OnDomainEvent(ThingHappenedEvent, 'test.second')
  async second(event: ThingHappenedEvent, messageId: string): Promise<void> {
    await this.apply('test.second', event, messageId);
  }

  @OnDomainEvent(OtherThingHappenedEvent, 'test.other')
  async other(event: OtherThingHappenedEvent, messageId: string): Promise<void> {
    await this.apply('test.other', event, messageId);
  }

  private async apply(consumer: string, event: DomainEvent<{ step: number }>, messageId: string): Promise<void> {
    const key = `${consumer}/${event.aggregateId}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    const failure = `${key}/${event.payload.step}`;
    if (this.failures.delete(failure)) {
      throw new Error(`Consumer ${consumer} failed once on step ${event.payload.step}`);
    }

    await this.dataSource.transaction(async (manager) => {
      if (await claimMessage(manager, consumer, messageId, event.tenantId)) {
        this.applied.set(key, [...(this.applied.get(key) ?? []), event.payload.step]);
      }
    });
  }
}

@Module({ providers: [RecordingConsumers] })
class RecordingConsumersModule {}

async function startContext(role: 'api' | 'worker'): Promise<INestApplicationContext> {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: TEST_QUEUE_PREFIX,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    APP_ROLE: role,
  });

  @Module({ imports: [AppModule.forRoot(config, rolesFor(role)), RecordingConsumersModule] })
  class OrderingTestModule {}

  const context = await NestFactory.create(OrderingTestModule, { logger: false });
  context.enableShutdownHooks();
  await context.init();
  scopeTestCodeAcrossTenants(context);

  return context;
}

describe('Domain events in aggregate order', () => {
  let worker: INestApplicationContext;
  let consumers: RecordingConsumers;
  let dataSource: DataSource;
  let tenantId: string;

  beforeAll(async () => {
    worker = await startContext('worker');
    consumers = worker.get(RecordingConsumers);
    dataSource = worker.get(DataSource);
    const tenant = await worker.get<TenancyAdmin>(TENANCY_ADMIN).createTenant({ slug: uniqueSlug('ordering'), name: 'Ordering' });
    tenantId = tenant.id;
  });

  afterAll(async () => {
    await worker.close();
  });

  async function write(context: INestApplicationContext, ...events: DomainEvent[]): Promise<void> {
    await context.get(DataSource).transaction((manager) => context.get(OutboxWriter).append(manager, ...events));
  }

  function thing(aggregateId: string, step: number): ThingHappenedEvent {
    return new ThingHappenedEvent(tenantId, aggregateId, { step });
  }

  async function sequencesOf(aggregateId: string): Promise<number[]> {
    const rows: { aggregate_sequence: string }[] = await dataSource.query(
      `SELECT aggregate_sequence FROM outbox_events WHERE tenant_id = $1 AND aggregate_id = $2 ORDER BY aggregate_sequence`,
      [tenantId, aggregateId],
    );

    return rows.map((row) => Number(row.aggregate_sequence));
  }

  describe('OutboxWriter', () => {
    it('numbers an aggregate events 1, 2, 3 in write order', async () => {
      const aggregateId = randomUUID();

      await write(worker, thing(aggregateId, 1), thing(aggregateId, 2));
      await write(worker, thing(aggregateId, 3));
      const rows: { aggregate_sequence: string; payload: { step: number } }[] = await dataSource.query(
        `SELECT aggregate_sequence, payload FROM outbox_events WHERE tenant_id = $1 AND aggregate_id = $2 ORDER BY aggregate_sequence`,
        [tenantId, aggregateId],
      );

      expect(rows.map((row) => [Number(row.aggregate_sequence), row.payload.step])).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
    });

    it('numbers each aggregate on its own', async () => {
      const first = randomUUID();
      const second = randomUUID();

      await write(worker, thing(first, 1), thing(second, 1), thing(first, 2));

      expect(await sequencesOf(first)).toEqual([1, 2]);
      expect(await sequencesOf(second)).toEqual([1]);
    });

    it('gives concurrent writers of one aggregate consecutive numbers', async () => {
      const aggregateId = randomUUID();

      await Promise.all(Array.from({ length: 10 }, (_, index) => write(worker, thing(aggregateId, index))));

      expect(await sequencesOf(aggregateId)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('gives a rolled-back number back', async () => {
      const aggregateId = randomUUID();

      await dataSource
        .transaction(async (manager) => {
          await worker.get(OutboxWriter).append(manager, thing(aggregateId, 1));
          throw new Error('the state change failed');
        })
        .catch(() => undefined);
      await write(worker, thing(aggregateId, 2));

      expect(await sequencesOf(aggregateId)).toEqual([1]);
    });
  });

  describe('consumers', () => {
    it('apply events in sequence order while an earlier one is retried', async () => {
      const aggregateId = randomUUID();
      consumers.failNext('test.first', aggregateId, 1);

      await write(worker, thing(aggregateId, 1), thing(aggregateId, 2), thing(aggregateId, 3));
      const applied = await eventually(async () => {
        const steps = consumers.appliedBy('test.first', aggregateId);

        return steps.length === 3 ? steps : undefined;
      }, 30_000);

      expect(applied).toEqual([1, 2, 3]);
      expect(consumers.callsOf('test.first', aggregateId)).toBe(4);
    });

    it('do not wait for each other', async () => {
      const aggregateId = randomUUID();
      consumers.failNext('test.first', aggregateId, 1);

      await write(worker, thing(aggregateId, 1), thing(aggregateId, 2));
      const second = await eventually(async () => {
        const steps = consumers.appliedBy('test.second', aggregateId);

        return steps.length === 2 ? steps : undefined;
      });
      const first = await eventually(async () => {
        const steps = consumers.appliedBy('test.first', aggregateId);

        return steps.length === 2 ? steps : undefined;
      }, 30_000);

      expect(second).toEqual([1, 2]);
      expect(first).toEqual([1, 2]);
      expect(consumers.callsOf('test.second', aggregateId)).toBe(2);
    });

    it('do not wait for events they do not listen to', async () => {
      const aggregateId = randomUUID();
      consumers.failNext('test.first', aggregateId, 1);

      await write(worker, thing(aggregateId, 1), new OtherThingHappenedEvent(tenantId, aggregateId, { step: 2 }));
      const other = await eventually(async () => {
        const steps = consumers.appliedBy('test.other', aggregateId);

        return steps.length === 1 ? steps : undefined;
      });

      expect(other).toEqual([2]);
    });

    it('skip a redelivered event', async () => {
      const aggregateId = randomUUID();
      await write(worker, thing(aggregateId, 1));
      await eventually(async () => (consumers.appliedBy('test.first', aggregateId).length === 1 ? true : undefined));
      const [row] = await dataSource.query(`SELECT * FROM outbox_events WHERE tenant_id = $1 AND aggregate_id = $2`, [tenantId, aggregateId]);
      const queue = worker.get<Queue>(getQueueToken(QUEUE_DOMAIN_EVENTS), { strict: false });

      const redelivery = await queue.add(
        JOB_DELIVER_DOMAIN_EVENT,
        {
          messageId: row.id,
          eventName: row.event_name,
          tenantId,
          aggregateId,
          aggregateSequence: Number(row.aggregate_sequence),
          occurredAt: new Date(row.occurred_at).toISOString(),
          payload: row.payload,
        },
        { jobId: `redelivery-${row.id}` },
      );
      await eventually(async () => ((await redelivery.getState()) === 'completed' ? true : undefined));

      expect(consumers.appliedBy('test.first', aggregateId)).toEqual([1]);
      expect(consumers.callsOf('test.first', aggregateId)).toBe(1);
    });
  });

  describe('consumer positions', () => {
    async function storedPosition(consumer: string, aggregateId: string): Promise<number | undefined> {
      const rows: { last_sequence: string }[] = await dataSource.query(
        `SELECT last_sequence FROM consumer_aggregate_positions WHERE consumer = $1 AND tenant_id = $2 AND aggregate_id = $3`,
        [consumer, tenantId, aggregateId],
      );

      return rows.length === 0 ? undefined : Number(rows[0].last_sequence);
    }

    it('advance to the highest sequence given', async () => {
      const positions = worker.get(ConsumerPositions);
      const first = randomUUID();
      const second = randomUUID();

      await positions.advanceAll(tenantId, [
        { consumer: 'test.first', aggregateId: first, sequence: 2 },
        { consumer: 'test.first', aggregateId: first, sequence: 5 },
        { consumer: 'test.first', aggregateId: first, sequence: 3 },
        { consumer: 'test.first', aggregateId: second, sequence: 1 },
      ]);
      await positions.advanceAll(tenantId, [{ consumer: 'test.first', aggregateId: first, sequence: 4 }]);

      expect(await storedPosition('test.first', first)).toBe(5);
      expect(await storedPosition('test.first', second)).toBe(1);
      const read = await positions.positionsOf(tenantId, [
        { consumer: 'test.first', aggregateId: first },
        { consumer: 'test.first', aggregateId: second },
        { consumer: 'test.other', aggregateId: first },
      ]);
      expect(read).toEqual(new Map([
        [positionKey('test.first', first), 5],
        [positionKey('test.first', second), 1],
      ]));
    });

    it('are stored after events of one aggregate written together are applied in order', async () => {
      const aggregateId = randomUUID();

      await write(worker, thing(aggregateId, 1), thing(aggregateId, 2), thing(aggregateId, 3));
      const position = await eventually(async () => ((await storedPosition('test.first', aggregateId)) === 3 ? 3 : undefined));

      expect(position).toBe(3);
      expect(consumers.appliedBy('test.first', aggregateId)).toEqual([1, 2, 3]);
    });
  });

  describe('relay', () => {
    it('publishes events written while no worker ran once one starts', async () => {
      const api = await startContext('api');
      const aggregateId = randomUUID();
      try {
        await write(api, thing(aggregateId, 1), thing(aggregateId, 2));
      } finally {
        await api.close();
      }

      const applied = await eventually(async () => {
        const steps = consumers.appliedBy('test.second', aggregateId);

        return steps.length === 2 ? steps : undefined;
      });

      expect(applied).toEqual([1, 2]);
    });
  });
});
