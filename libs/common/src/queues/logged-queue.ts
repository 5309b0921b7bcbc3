import { BullModule, RegisterQueueOptions } from '@nestjs/bullmq';
import { DynamicModule, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { RepeatedErrorLog } from '../logging/repeated-error-log';

const errorLogs = new Map<string, RepeatedErrorLog>();

/**
 * A BullMQ queue that logs its Redis connection errors from its constructor
 * on. BullMQ re-emits every failed reconnect as `error` on each queue, and a
 * queue without a listener prints the raw error to stderr. A listener added
 * in a module hook misses the errors emitted while Nest is still starting,
 * and a module that only injects a queue adds none.
 */
export class LoggedQueue extends Queue {
  constructor(...args: ConstructorParameters<typeof Queue>) {
    super(...args);
    // Several modules register the same queue name, each with its own instance: one log per name.
    let errors = errorLogs.get(this.name);
    if (!errors) {
      errors = new RepeatedErrorLog(new Logger('Queue'), `Queue ${this.name} cannot reach Redis; adding its jobs fails until Redis is back`);
      errorLogs.set(this.name, errors);
    }
    const log = errors;
    this.on('error', (error) => log.record(error));
  }
}

/** Registers BullMQ queues as LoggedQueue instances; use it in place of BullModule.registerQueue. */
export function registerQueues(...options: RegisterQueueOptions[]): DynamicModule {
  BullModule.queueClass = LoggedQueue;

  return BullModule.registerQueue(...options);
}
