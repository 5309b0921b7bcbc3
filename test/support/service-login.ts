import { APP_ROLE } from '@app/common/database/database-roles';
import { Client } from 'pg';
import { TEST_DATABASE_URL } from './test-env';

/** A login role that is a member of the app role only, as SERVICE_DATABASE_URL should name. */
export const SERVICE_LOGIN_ROLE = 'billing_service_login_e2e';

/**
 * Returns the e2e database's URL with SERVICE_LOGIN_ROLE as its user, after
 * creating that role when it is missing and granting it the app role. Roles
 * belong to the server and every database shares them, so it is never
 * dropped. Whatever connects with this URL can reach no role but the app
 * role, so a query that needs another role fails.
 */
export async function serviceLoginDatabaseUrl(): Promise<string> {
  const admin = new Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${SERVICE_LOGIN_ROLE}') THEN
          CREATE ROLE ${SERVICE_LOGIN_ROLE} LOGIN NOINHERIT;
        END IF;
      EXCEPTION
        WHEN duplicate_object OR unique_violation THEN NULL;
      END
      $$`);
    await admin.query(`GRANT ${APP_ROLE} TO ${SERVICE_LOGIN_ROLE}`);
  } finally {
    await admin.end();
  }

  const url = new URL(TEST_DATABASE_URL);
  url.username = SERVICE_LOGIN_ROLE;
  url.password = '';

  return url.toString();
}
