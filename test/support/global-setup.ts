import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { dropDatabase } from './databases';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX_BASE, TEST_REDIS_URL } from './test-env';

/**
 * Recreate the e2e database and migrate it with the built migration runner,
 * so every run starts from an empty schema built by the real migrations.
 */
export default async function globalSetup(): Promise<void> {
  const root = join(__dirname, '..', '..');
  const runner = join(root, 'dist', 'src', 'database', 'migrate.js');
  if (!existsSync(runner)) {
    throw new Error('dist/ is missing: run `npm run build` before the e2e suites (npm test does).');
  }

  await dropDatabase(TEST_DATABASE_URL);
  await clearQueues();
  execFileSync(process.execPath, [runner], {
    env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: TEST_DATABASE_URL },
    stdio: 'inherit',
  });
}

/**
 * Delete every queue key of this test database's suites. Jobs left by an earlier run point at
 * rows that no longer exist, and keys left after the last run only take Redis memory.
 */
export async function clearQueues(): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${TEST_QUEUE_PREFIX_BASE}-*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        await redis.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
