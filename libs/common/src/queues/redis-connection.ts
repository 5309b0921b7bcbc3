import type { RedisOptions } from 'bullmq';

/**
 * Options for connections that only produce jobs (the HTTP role). No offline
 * queue and a short command timeout: while Redis is away, `add()` rejects at
 * once instead of hanging a webhook delivery, and the inbox row waits for the
 * sweeper.
 */
export function producerRedisOptions(redisUrl: string): RedisOptions {
  return {
    ...baseOptions(redisUrl),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
  };
}

/**
 * The connection every worker uses. BullMQ needs workers to retry forever
 * (`maxRetriesPerRequest: null`, offline queue on) so they resume by themselves
 * after Redis restarts. Processors name this object in their decorator, which
 * is evaluated at import time, so it is filled in place at start-up by
 * `configureWorkerConnection` before any worker is created.
 */
export const WORKER_CONNECTION: RedisOptions = {};

export function configureWorkerConnection(redisUrl: string): RedisOptions {
  for (const key of Object.keys(WORKER_CONNECTION)) {
    delete (WORKER_CONNECTION as Record<string, unknown>)[key];
  }
  Object.assign(WORKER_CONNECTION, {
    ...baseOptions(redisUrl),
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
  });

  return WORKER_CONNECTION;
}

function baseOptions(redisUrl: string): RedisOptions {
  const url = new URL(redisUrl);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;

  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 6379,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    // Reconnect with a growing delay, capped, and never give up.
    retryStrategy: (times: number) => Math.min(200 * 2 ** Math.min(times, 6), 10_000),
  };
}
