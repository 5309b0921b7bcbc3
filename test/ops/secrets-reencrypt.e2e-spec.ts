import { SecretCipher } from '@app/common/crypto/secret-cipher';
import { signStripePayload } from '@app/common/stripe/webhook-signature';
import { ChildProcess, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { endpointSecretAssociatedData, secretKeyAssociatedData } from '../../src/modules/stripe-connection/connection-secrets';
import { createOperatorAuth } from '../support/factories';
import { serviceLoginDatabaseUrl } from '../support/service-login';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';
import { TestApp, eventually, startTestApp } from '../support/test-app';
import { WebhookEndpoint, connectedEndpoint, deliver, nowSeconds, stripeEvent } from '../webhooks/webhook-helpers';

const CLI = join(__dirname, '..', '..', 'dist', 'src', 'ops', 'cli.js');
/**
 * The CLI connects as a login role that is a member of the app role only, so a command
 * that needed any other role, the cross-tenant one included, would fail.
 */
let cliDatabaseUrl: string;

function newKey(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/** The key test apps use when APP_ENCRYPTION_KEY is unset; rows of other suites in this database are under it. */
const SUITE_KEY = `test:${Buffer.alloc(32, 7).toString('base64')}`;
const OLD_KEY = newKey('old');
const NEW_KEY = newKey('new');
/** After rotation: the new key first, the old ones still decrypting. */
const ROTATED_KEYS = [NEW_KEY, OLD_KEY, SUITE_KEY].join(',');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `secrets:reencrypt` with these keys; `started` receives the child process once it runs. */
function reencrypt(keys: string, args: string[] = [], started?: (child: ChildProcess) => void): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, 'secrets:reencrypt', ...args],
      {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          DATABASE_URL: cliDatabaseUrl,
          REDIS_URL: TEST_REDIS_URL,
          QUEUE_PREFIX: TEST_QUEUE_PREFIX,
          APP_ENCRYPTION_KEY: keys,
          LOG_LEVEL: 'error',
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ code: 0, stdout, stderr });

          return;
        }
        resolve({ code: typeof error.code === 'number' ? error.code : -1, stdout, stderr });
      },
    );
    started?.(child);
  });
}

interface SecretRow {
  id: string;
  tenant_id: string;
  secret_key_ciphertext: string | null;
  secret_key_key_id: string | null;
  endpoint_secret_ciphertext: string | null;
  endpoint_secret_key_id: string | null;
  retired_endpoint_secret_ciphertext: string | null;
  retired_endpoint_secret_key_id: string | null;
}

/** Run one query on a connection of its own as the DATABASE_URL user. */
async function observeAsOwner(sql: string, params: unknown[] = []): Promise<unknown[]> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function secretRows(dataSource: DataSource): Promise<SecretRow[]> {
  return (await dataSource.query(
    `SELECT id, tenant_id, secret_key_ciphertext, secret_key_key_id, endpoint_secret_ciphertext, endpoint_secret_key_id,
            retired_endpoint_secret_ciphertext, retired_endpoint_secret_key_id
       FROM stripe_connections ORDER BY id`,
  )) as SecretRow[];
}

/** Key ids of every stored secret, e.g. { old: 7, new: 2 }. */
async function keyIdCounts(dataSource: DataSource): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const row of await secretRows(dataSource)) {
    for (const keyId of [row.secret_key_key_id, row.endpoint_secret_key_id, row.retired_endpoint_secret_key_id]) {
      if (keyId !== null) {
        counts[keyId] = (counts[keyId] ?? 0) + 1;
      }
    }
  }

  return counts;
}

/** Decrypts every stored secret of the row with `cipher`; throws when one does not decrypt. */
function decryptRow(cipher: SecretCipher, row: SecretRow): string[] {
  const secrets: string[] = [];
  if (row.secret_key_key_id !== null && row.secret_key_ciphertext !== null) {
    secrets.push(cipher.decrypt({ keyId: row.secret_key_key_id, ciphertext: row.secret_key_ciphertext }, secretKeyAssociatedData(row.tenant_id)));
  }
  if (row.endpoint_secret_key_id !== null && row.endpoint_secret_ciphertext !== null) {
    secrets.push(cipher.decrypt({ keyId: row.endpoint_secret_key_id, ciphertext: row.endpoint_secret_ciphertext }, endpointSecretAssociatedData(row.tenant_id)));
  }
  if (row.retired_endpoint_secret_key_id !== null && row.retired_endpoint_secret_ciphertext !== null) {
    secrets.push(
      cipher.decrypt({ keyId: row.retired_endpoint_secret_key_id, ciphertext: row.retired_endpoint_secret_ciphertext }, endpointSecretAssociatedData(row.tenant_id)),
    );
  }

  return secrets;
}

describe('secrets:reencrypt', () => {
  let t: TestApp;
  let dataSource: DataSource;
  const endpoints: WebhookEndpoint[] = [];
  const retiredSecret = `whsec_${randomBytes(24).toString('hex')}`;

  beforeAll(async () => {
    cliDatabaseUrl = await serviceLoginDatabaseUrl();
    // Secrets stored before the rotation, under the old key.
    const before = await startTestApp({ APP_ENCRYPTION_KEY: `${OLD_KEY},${SUITE_KEY}` });
    try {
      const operator = await createOperatorAuth(before);
      for (let index = 0; index < 5; index++) {
        endpoints.push(await connectedEndpoint(before, operator));
      }
      // A retired endpoint secret, as left for 14 days after a secret change.
      const retired = new SecretCipher(`${OLD_KEY},${SUITE_KEY}`).encrypt(retiredSecret, endpointSecretAssociatedData(endpoints[0].tenantId));
      await before.app
        .get(DataSource)
        .query(
          `UPDATE stripe_connections SET retired_endpoint_secret_ciphertext = $2, retired_endpoint_secret_key_id = $3,
                  retired_endpoint_secret_kept_until = now() + interval '14 days'
            WHERE tenant_id = $1`,
          [endpoints[0].tenantId, retired.ciphertext, retired.keyId],
        );
    } finally {
      await before.close();
    }

    // The service keeps running through the rotation, with the new key first.
    t = await startTestApp({ APP_ENCRYPTION_KEY: ROTATED_KEYS });
    dataSource = t.app.get(DataSource);
  });

  afterAll(async () => {
    // Put every row back under the key the other suites run with.
    await reencrypt([SUITE_KEY, NEW_KEY, OLD_KEY].join(','));
    await t?.close();
  });

  it('stops after the batch limit and leaves the rest', async () => {
    const before = await keyIdCounts(dataSource);

    const result = await reencrypt(ROTATED_KEYS, ['--batch-size', '2', '--max-batches', '1']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('stripe_connections: batch 1,');
    expect(result.stdout).toContain('Run the command again to continue.');
    const after = await keyIdCounts(dataSource);
    expect(before.new ?? 0).toBe(0);
    expect(after.new).toBeGreaterThanOrEqual(2);
    expect(after.new).toBeLessThanOrEqual(6);
    expect(after.old).toBeGreaterThan(0);
  });

  it('moves on with a limited rerun', async () => {
    const before = await keyIdCounts(dataSource);

    // Tenants an earlier run finished cost no batch, so the one batch allowed reaches a tenant with work left.
    const result = await reencrypt(ROTATED_KEYS, ['--batch-size', '2', '--max-batches', '1']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('stripe_connections: batch 1,');
    const after = await keyIdCounts(dataSource);
    expect(after.new).toBeGreaterThan(before.new ?? 0);
  });

  it('finishes the rest on a rerun', async () => {
    const result = await reencrypt(ROTATED_KEYS, ['--batch-size', '2']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/stripe_connections: \d+ re-encrypted, 0 changed concurrently, 0 failed, 0 still under older keys/);
    expect(result.stdout).toContain('Done: every stored secret is under key "new"');
    expect(Object.keys(await keyIdCounts(dataSource))).toEqual(['new']);
  });

  it('rewrites nothing on a second rerun', async () => {
    const before = await secretRows(dataSource);

    const result = await reencrypt(ROTATED_KEYS);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('stripe_connections: 0 re-encrypted, 0 changed concurrently, 0 failed, 0 still under older keys');
    expect(await secretRows(dataSource)).toEqual(before);
  });

  it('keeps every secret readable while the service runs', async () => {
    for (const endpoint of endpoints) {
      const verified = await t.http().post('/api/v1/settings/billing/stripe/verify').set(endpoint.auth);
      expect(verified.status).toBe(200);
      expect(verified.body.stripe.status).toBe('connected');
    }
  });

  it('decrypts everything with the old keys removed', async () => {
    const newOnly = new SecretCipher(NEW_KEY);
    const rows = await secretRows(dataSource);
    const decrypted = rows.flatMap((row) => decryptRow(newOnly, row));

    expect(decrypted).toContain(retiredSecret);
    for (const endpoint of endpoints) {
      expect(decrypted).toContain(endpoint.secret);
      expect(decrypted).toContain(endpoint.account.test.secretKey);
    }

    const withoutOldKeys = await startTestApp({ APP_ROLE: 'api', APP_ENCRYPTION_KEY: NEW_KEY }, t.emulator);
    try {
      const endpoint = endpoints[1];
      const verified = await withoutOldKeys.http().post('/api/v1/settings/billing/stripe/verify').set(endpoint.auth);
      const body = stripeEvent();
      const delivered = await deliver(withoutOldKeys.url, endpoint.path, body, signStripePayload(endpoint.secret, body, nowSeconds()));

      expect(verified.status).toBe(200);
      expect(verified.body.stripe.status).toBe('connected');
      expect(delivered.status).toBe(200);
    } finally {
      await withoutOldKeys.close();
    }
  });

  it('never overwrites a secret a tenant changes meanwhile', async () => {
    // Every row goes back under the old key, then one tenant "rotates" its
    // secret key under the new key inside a transaction that holds the row
    // lock while re-encryption runs.
    await reencrypt([OLD_KEY, NEW_KEY, SUITE_KEY].join(','));
    const target = endpoints[2];
    const rotatedSecretKey = `sk_test_${randomBytes(16).toString('hex')}`;
    const rotated = new SecretCipher(ROTATED_KEYS).encrypt(rotatedSecretKey, secretKeyAssociatedData(target.tenantId));
    const tenantSession = new Client({ connectionString: TEST_DATABASE_URL });
    await tenantSession.connect();
    let result: CliResult;
    try {
      await tenantSession.query('BEGIN');
      await tenantSession.query(`SELECT id FROM stripe_connections WHERE tenant_id = $1 FOR UPDATE`, [target.tenantId]);
      await tenantSession.query(`UPDATE stripe_connections SET secret_key_ciphertext = $2, secret_key_key_id = $3 WHERE tenant_id = $1`, [
        target.tenantId,
        rotated.ciphertext,
        rotated.keyId,
      ]);

      const running = reencrypt(ROTATED_KEYS, ['--batch-size', '100']);
      // Commit only once re-encryption waits for this row's lock, to read it or to write it.
      // The observer connects as the DATABASE_URL user because the service's role may not read other sessions' queries.
      await eventually(async () => {
        const [row] = (await observeAsOwner(
          `SELECT count(*)::int AS waiting FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE NOT l.granted AND a.datname = current_database() AND a.query LIKE '%stripe_connections%'`,
        )) as { waiting: number }[];

        return row.waiting > 0 ? true : undefined;
      }, 30_000);
      await tenantSession.query('COMMIT');
      result = await running;
    } finally {
      await tenantSession.end();
    }

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('0 still under older keys');
    const row = (await secretRows(dataSource)).find((candidate) => candidate.tenant_id === target.tenantId);
    expect(row?.secret_key_ciphertext).toBe(rotated.ciphertext);
    expect(new SecretCipher(NEW_KEY).decrypt({ keyId: 'new', ciphertext: row?.secret_key_ciphertext ?? '' }, secretKeyAssociatedData(target.tenantId))).toBe(
      rotatedSecretKey,
    );
  });

  it('fails and keeps a secret whose key is missing', async () => {
    const before = await secretRows(dataSource);

    const result = await reencrypt([newKey('newer'), OLD_KEY, SUITE_KEY].join(','));

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/stripe_connections: 0 re-encrypted, 0 changed concurrently, [1-9]\d* failed, [1-9]\d* still under older keys/);
    expect(result.stdout).toContain('Keep the older keys in APP_ENCRYPTION_KEY');
    expect(await secretRows(dataSource)).toEqual(before);
  });
});
