import { AppConfig } from '../config/app-config';
import { checkRedis, describeStartupFailure } from '../startup-check';

/**
 * Throws an error naming REDIS_URL and what to check when Redis cannot be
 * reached. Commands that read or move jobs call it first: otherwise the queue
 * call waits out its own timeout and Nest's logger prints the error as an
 * object dump before the command's message.
 */
export async function assertRedisReachable(config: AppConfig): Promise<void> {
  const failure = await checkRedis(config.redisUrl);
  if (failure) {
    throw new Error(describeStartupFailure(failure).message);
  }
}
