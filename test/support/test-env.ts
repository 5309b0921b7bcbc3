/** The database the e2e suites own; dropped and migrated afresh at the start of every run. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/billing_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * BullMQ prefix of the e2e apps, one per test database, so suites run at the
 * same time against different databases never take each other's jobs and
 * global setup clears only its own keys.
 */
export const TEST_QUEUE_PREFIX = `{billing-e2e-${new URL(TEST_DATABASE_URL).pathname.slice(1).replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 50)}}`;
