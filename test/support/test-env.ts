/** The database the e2e suites own; dropped and migrated afresh at the start of every run. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/billing_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const databaseName = new URL(TEST_DATABASE_URL).pathname.slice(1).replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40);

/** Common start of every e2e queue prefix of this test database; global setup clears keys under it. */
export const TEST_QUEUE_PREFIX_BASE = `billing-e2e-${databaseName}`;

/**
 * BullMQ prefix of the e2e apps of one test file (jest loads this module once
 * per file). Jobs a file leaves behind stay under its own prefix, so they never
 * run against the next file's emulator, and suites run at the same time
 * against other databases never take each other's jobs.
 */
export const TEST_QUEUE_PREFIX = `{${TEST_QUEUE_PREFIX_BASE}-${Math.random().toString(36).slice(2, 10)}}`;
