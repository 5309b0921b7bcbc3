import { clearQueues } from './global-setup';

/** Deletes the queue keys once the e2e suites have finished. The database stays for inspection. */
export default async function globalTeardown(): Promise<void> {
  await clearQueues();
}
