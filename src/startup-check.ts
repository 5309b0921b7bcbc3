import { describeError } from '@app/common/logging/error-description';
import { producerRedisOptions } from '@app/common/queues/redis-connection';
import Redis from 'ioredis';
import { Client } from 'pg';
import { AppConfig } from './config/app-config';

/** Milliseconds one connection attempt may take before start-up gives up. */
export const STARTUP_CONNECT_TIMEOUT_MS = 5_000;

/** A dependency the service could not reach at start-up, named by its environment variable. */
export interface StartupCheckFailure {
  variable: string;
  service: 'PostgreSQL' | 'Redis';
  /** host:port from the URL, never its credentials. */
  target: string;
  error: Error;
}

/**
 * Connects once to every PostgreSQL and Redis server the configuration names,
 * before Nest starts. Otherwise @nestjs/typeorm 11 retries nine times, 3 s
 * apart, and ends with a stack trace that names no variable, and the Redis
 * clients reconnect forever. Returns the first failure, or null.
 */
export async function checkDependencies(config: AppConfig): Promise<StartupCheckFailure | null> {
  const databases = [{ variable: 'DATABASE_URL', url: config.databaseUrl }];
  if (config.serviceDatabaseUrl !== config.databaseUrl) {
    databases.push({ variable: 'SERVICE_DATABASE_URL', url: config.serviceDatabaseUrl });
  }

  for (const { variable, url } of databases) {
    const failure = await checkPostgres(variable, url);
    if (failure) {
      return failure;
    }
  }

  return checkRedis(config.redisUrl);
}

/** Connects once to the PostgreSQL server of `url`, which the environment variable `variable` names. Returns the failure, or null. */
export async function checkPostgres(variable: string, url: string): Promise<StartupCheckFailure | null> {
  const error = await connectToPostgres(url);

  return error ? { variable, service: 'PostgreSQL', target: hostAndPort(url, 5432), error } : null;
}

/** Connects once to the Redis server of REDIS_URL and sends PING. Returns the failure, or null. */
export async function checkRedis(redisUrl: string): Promise<StartupCheckFailure | null> {
  const error = await connectToRedis(redisUrl);

  return error ? { variable: 'REDIS_URL', service: 'Redis', target: hostAndPort(redisUrl, 6379), error } : null;
}

/** Builds the start-up failure's log fields and message; neither contains the URL's credentials. */
export function describeStartupFailure(failure: StartupCheckFailure): { fields: Record<string, unknown>; message: string } {
  const { variable, service, target, error } = failure;

  return {
    fields: { variable, target, code: (error as { code?: unknown }).code, err: describeError(error) },
    message:
      `Cannot connect to ${service} at ${target} (${variable}): ${error.message.replace(/\.$/, '')}. ` +
      `Check that ${service} is running there and that ${variable} names the right host, port, database and credentials.`,
  };
}

async function connectToPostgres(url: string): Promise<Error | null> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: STARTUP_CONNECT_TIMEOUT_MS });
  // A socket error after connect() settled would otherwise be an unhandled 'error' event.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');

    return null;
  } catch (error) {
    return asError(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function connectToRedis(url: string): Promise<Error | null> {
  const redis = new Redis({
    ...producerRedisOptions(url),
    lazyConnect: true,
    connectTimeout: STARTUP_CONNECT_TIMEOUT_MS,
    // One try: a failed connect() rejects instead of reconnecting.
    retryStrategy: () => null,
  });
  // connect() rejects with "Connection is closed." and the cause comes as an 'error' event.
  let socketError: Error | null = null;
  redis.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    await redis.connect();
    await redis.ping();

    return null;
  } catch (error) {
    return socketError ?? asError(error);
  } finally {
    redis.disconnect();
  }
}

function hostAndPort(url: string, defaultPort: number): string {
  const parsed = new URL(url);

  return `${parsed.hostname || 'localhost'}:${parsed.port || defaultPort}`;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
