import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { createToken, uniqueSlug } from '../support/factories';
import { createEmulatorAccount } from '../support/stripe-account';
import { serviceLoginDatabaseUrl } from '../support/service-login';
import { TestApp, startTestApp } from '../support/test-app';
import { sessionCookieOf, strongPassword, uniqueEmail } from './tenancy-helpers';

const run = promisify(execFile);
const CLI = join(__dirname, '..', '..', 'dist', 'src', 'ops', 'cli.js');
/** The person the CLI's audit entries name, from OPS_OPERATOR. */
const OPERATOR_NAME = 'oncall@example.com';
/**
 * The CLI connects as a login role that is a member of the app role only, so a command
 * that needed any other role, the cross-tenant one included, would fail.
 */
let cliDatabaseUrl: string;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file` with `args` against the e2e database, with `env` added to the CLI's environment. */
async function runWith(file: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(file, args, {
      env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: cliDatabaseUrl, LOG_LEVEL: 'error', OPS_OPERATOR: OPERATOR_NAME, ...env },
      timeout: 30_000,
    });

    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };

    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** Runs the built CLI against the e2e database, as an operator would after `npm run build`. */
function cli(...args: string[]): Promise<CliResult> {
  return runWith(process.execPath, [CLI, ...args]);
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

let t: TestApp;

beforeAll(async () => {
  cliDatabaseUrl = await serviceLoginDatabaseUrl();
  t = await startTestApp();
});

afterAll(async () => {
  await t?.close();
});

describe('ops CLI', () => {
  it('prints a working operator token alone on the last line', async () => {
    const result = await cli('tokens:create', '--role', 'operator', '--label', 'cli e2e');
    const token = lastLine(result.stdout);

    const response = await t.http().get('/api/v1/ops/tenants').set('Authorization', `Bearer ${token}`);

    expect(result.code).toBe(0);
    expect(token).toMatch(/^bst_[A-Za-z0-9_-]{43}$/);
    expect(response.status).toBe(200);
  });

  it('creates a tenant, a user and a tenant token by slug', async () => {
    const slug = uniqueSlug('cli');
    const email = uniqueEmail('cli');
    const password = strongPassword();

    const tenant = await cli('tenants:create', '--slug', slug, '--name', 'CLI School', '--time-zone', 'Europe/Berlin');
    const user = await cli('users:create', '--tenant', slug, '--email', email, '--password', password, '--role', 'owner');
    const token = await cli('tokens:create', '--tenant', slug, '--role', 'owner', '--label', 'cli owner');
    const me = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${lastLine(token.stdout)}`);
    const login = await t.http().post('/api/v1/auth/login').send({ tenant: slug, email, password });

    expect(tenant.code).toBe(0);
    expect(user.code).toBe(0);
    expect(token.code).toBe(0);
    expect(me.body.tenant).toEqual({ id: lastLine(tenant.stdout), slug, name: 'CLI School' });
    expect(me.body.role).toBe('owner');
    expect(login.status).toBe(200);
  });

  it('sets live mode by tenant id', async () => {
    const slug = uniqueSlug('cli-live');
    const tenantId = lastLine((await cli('tenants:create', '--slug', slug, '--name', 'Live')).stdout);

    const result = await cli('tenants:live-mode', '--tenant', tenantId, '--allowed', 'true');
    const tenants: { live_mode_allowed: boolean }[] = await t.app.get(DataSource).query('SELECT live_mode_allowed FROM tenants WHERE id = $1', [tenantId]);

    expect(result.code).toBe(0);
    expect(tenants[0].live_mode_allowed).toBe(true);
  });

  it('prints that live mode is forbidden', async () => {
    const slug = uniqueSlug('cli-forbid');
    const tenantId = lastLine((await cli('tenants:create', '--slug', slug, '--name', 'Forbidden')).stdout);
    await cli('tenants:live-mode', '--tenant', tenantId, '--allowed', 'true');

    const result = await cli('tenants:live-mode', '--tenant', slug, '--allowed', 'false');

    expect(result.code).toBe(0);
    expect(lastLine(result.stdout)).toBe(`Live mode is now forbidden for tenant ${slug}.`);
  });

  it('refuses to forbid live mode while live keys are connected', async () => {
    const slug = uniqueSlug('cli-live-keys');
    const tenantId = lastLine((await cli('tenants:create', '--slug', slug, '--name', 'Live keys')).stdout);
    await cli('tenants:live-mode', '--tenant', tenantId, '--allowed', 'true');
    const owner = await createToken(t, tenantId, 'owner');
    const account = await createEmulatorAccount(t);
    await t.http().post('/api/v1/settings/billing/stripe').set(owner).send(account.live).expect(201);

    const result = await cli('tenants:live-mode', '--tenant', slug, '--allowed', 'false');
    const tenants: { live_mode_allowed: boolean }[] = await t.app.get(DataSource).query('SELECT live_mode_allowed FROM tenants WHERE id = $1', [tenantId]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('switch to test keys');
    expect(tenants[0].live_mode_allowed).toBe(true);
  });

  it('records its audit entries with the operator named', async () => {
    const slug = uniqueSlug('cli-audit');
    const tenantId = lastLine((await cli('tenants:create', '--slug', slug, '--name', 'Audited')).stdout);

    const rows: { actor_kind: string; actor_label: string }[] = await t.app
      .get(DataSource)
      .query(`SELECT actor_kind, actor_label FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.created'`, [tenantId]);

    expect(rows).toEqual([{ actor_kind: 'system', actor_label: `ops-cli (${OPERATOR_NAME})` }]);
  });

  it('creates an operator who can log in', async () => {
    const email = uniqueEmail('cli-operator');
    const password = strongPassword();

    const result = await cli('users:create', '--operator', '--email', email, '--password', password);
    const login = await t.http().post('/api/v1/auth/login').send({ email, password });

    expect(result.code).toBe(0);
    expect(login.status).toBe(200);
    expect(login.body.role).toBe('operator');
  });

  it('revokes a token by id', async () => {
    const created = await cli('tokens:create', '--role', 'operator', '--label', 'to revoke');
    const token = lastLine(created.stdout);
    const me = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`);
    const listed = await t.http().get('/api/v1/ops/tokens').set('Authorization', `Bearer ${token}`);
    const id = (listed.body.data as { id: string; label: string }[]).find((item) => item.label === 'to revoke')?.id ?? '';

    const revoked = await cli('tokens:revoke', '--id', id);
    const after = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`);

    expect(me.status).toBe(200);
    expect(revoked.code).toBe(0);
    expect(after.status).toBe(401);
  });

  it('audits an operator token platform-wide', async () => {
    const label = `platform ${uniqueSlug('label')}`;
    const created = await cli('tokens:create', '--role', 'operator', '--label', label);
    const id = /token id ([0-9a-f-]{36})/.exec(created.stdout)?.[1] ?? '';

    const revoked = await cli('tokens:revoke', '--id', id);
    const again = await cli('tokens:revoke', '--id', id);
    const entries: { action: string; tenant_id: string | null; actor_label: string }[] = await t.app
      .get(DataSource)
      .query(`SELECT action, tenant_id, actor_label FROM audit_log WHERE details->>'tokenId' = $1 ORDER BY at`, [id]);

    expect(created.code).toBe(0);
    expect(revoked.code).toBe(0);
    expect(again.code).toBe(0);
    expect(entries).toEqual([
      { action: 'token.created', tenant_id: null, actor_label: `ops-cli (${OPERATOR_NAME})` },
      { action: 'token.revoked', tenant_id: null, actor_label: `ops-cli (${OPERATOR_NAME})` },
    ]);
  });

  it('revokes a tenant token in its tenant', async () => {
    const slug = uniqueSlug('cli-token');
    const tenantId = lastLine((await cli('tenants:create', '--slug', slug, '--name', 'Token School')).stdout);
    const token = lastLine((await cli('tokens:create', '--tenant', tenantId, '--role', 'staff', '--label', 'to revoke')).stdout);
    const listed = await cli('tokens:list', '--tenant', slug);
    const id = /^([0-9a-f-]{36})\s+staff/m.exec(listed.stdout)?.[1] ?? '';

    const revoked = await cli('tokens:revoke', '--id', id);
    const after = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`);
    const entries: { tenant_id: string | null }[] = await t.app
      .get(DataSource)
      .query(`SELECT tenant_id FROM audit_log WHERE action = 'token.revoked' AND details->>'tokenId' = $1`, [id]);

    expect(listed.code).toBe(0);
    expect(revoked.code).toBe(0);
    expect(after.status).toBe(401);
    expect(entries).toEqual([{ tenant_id: tenantId }]);
  });

  it('reports an operator token already revoked with its time', async () => {
    const created = await cli('tokens:create', '--role', 'operator', '--label', `revoke twice ${uniqueSlug('label')}`);
    const id = /token id ([0-9a-f-]{36})/.exec(created.stdout)?.[1] ?? '';

    const first = await cli('tokens:revoke', '--id', id);
    const second = await cli('tokens:revoke', '--id', id);
    const [row]: { revoked_at: Date }[] = await t.app.get(DataSource).query(`SELECT revoked_at FROM api_tokens WHERE id = $1`, [id]);

    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe(`Revoked token ${id}.`);
    expect(second.code).toBe(0);
    expect(second.stdout.trim()).toBe(`Token ${id} was already revoked at ${row.revoked_at.toISOString()}; nothing changed.`);
  });

  it('reports a tenant token already revoked and audits it once', async () => {
    const slug = uniqueSlug('cli-twice');
    const tenantId = lastLine((await cli('tenants:create', '--slug', slug, '--name', 'Twice School')).stdout);
    await cli('tokens:create', '--tenant', tenantId, '--role', 'staff', '--label', 'revoke twice');
    const listed = await cli('tokens:list', '--tenant', slug);
    const id = /^([0-9a-f-]{36})\s+staff/m.exec(listed.stdout)?.[1] ?? '';

    const first = await cli('tokens:revoke', '--id', id);
    const second = await cli('tokens:revoke', '--id', id);
    const dataSource = t.app.get(DataSource);
    const [row]: { revoked_at: Date }[] = await dataSource.query(`SELECT revoked_at FROM api_tokens WHERE id = $1`, [id]);
    const entries: unknown[] = await dataSource.query(`SELECT id FROM audit_log WHERE action = 'token.revoked' AND details->>'tokenId' = $1`, [id]);

    expect(first.stdout.trim()).toBe(`Revoked token ${id}.`);
    expect(second.code).toBe(0);
    expect(second.stdout.trim()).toBe(`Token ${id} was already revoked at ${row.revoked_at.toISOString()}; nothing changed.`);
    expect(entries).toHaveLength(1);
  });

  it('fails with exit status 1 to revoke an unknown token', async () => {
    const result = await cli('tokens:revoke', '--id', '00000000-0000-4000-8000-000000000000');

    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('Error: No token with id 00000000-0000-4000-8000-000000000000. tokens:list shows the ids of the tokens.');
  });

  it('lists the tokens of every tenant', async () => {
    const label = `listed ${uniqueSlug('label')}`;
    await cli('tokens:create', '--role', 'operator', '--label', label);

    const result = await cli('tokens:list', '--limit', '100');

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(label);
  });

  it('revokes every session of a user', async () => {
    const email = uniqueEmail('cli-revoked');
    const password = strongPassword();
    await cli('users:create', '--operator', '--email', email, '--password', password);
    const first = sessionCookieOf(await t.http().post('/api/v1/auth/login').send({ email, password }).expect(200));
    const second = sessionCookieOf(await t.http().post('/api/v1/auth/login').send({ email, password }).expect(200));

    const result = await cli('sessions:revoke', '--operator', '--email', email);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Revoked 2 live session(s)');
    await t.http().get('/api/v1/auth/me').set('Cookie', first).expect(401);
    await t.http().get('/api/v1/auth/me').set('Cookie', second).expect(401);
    const fresh = sessionCookieOf(await t.http().post('/api/v1/auth/login').send({ email, password }).expect(200));
    await t.http().get('/api/v1/auth/me').set('Cookie', fresh).expect(200);
  });

  it('audits revoked sessions in their tenant', async () => {
    const slug = uniqueSlug('cli-audit');
    const email = uniqueEmail('cli-audit');
    const password = strongPassword();
    const tenantId = lastLine((await cli('tenants:create', '--slug', slug, '--name', 'Audit School')).stdout);
    await cli('users:create', '--tenant', slug, '--email', email, '--password', password, '--role', 'admin');
    await t.http().post('/api/v1/auth/login').send({ tenant: slug, email, password }).expect(200);

    const result = await cli('sessions:revoke', '--email', email);
    const entries: { tenant_id: string | null; details: { revoked: number } }[] = await t.app
      .get(DataSource)
      .query(`SELECT tenant_id, details FROM audit_log WHERE action = 'sessions.revoked' AND details->>'userId' = (SELECT id::text FROM users WHERE email = $1)`, [email]);

    expect(result.code).toBe(0);
    expect(entries).toHaveLength(1);
    expect(entries[0].tenant_id).toBe(tenantId);
    expect(entries[0].details.revoked).toBe(1);
  });

  it.each([0, 1])('counts %i revoked sessions', async (sessions) => {
    const email = uniqueEmail('cli-counted');
    const password = strongPassword();
    await cli('users:create', '--operator', '--email', email, '--password', password);
    for (let index = 0; index < sessions; index++) {
      await t.http().post('/api/v1/auth/login').send({ email, password }).expect(200);
    }

    const result = await cli('sessions:revoke', '--operator', '--email', email);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Revoked ${sessions} live session(s)`);
  });

  it('fails with exit status 1 to revoke sessions of an unknown user', async () => {
    const result = await cli('sessions:revoke', '--email', uniqueEmail('nobody'));

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No such user');
  });

  it('fails with exit status 1 and the field for a bad slug', async () => {
    const result = await cli('tenants:create', '--slug', 'Bad Slug', '--name', 'Bad');

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--slug: must be 2 to 63 lower-case letters, digits or hyphens');
  });

  it('fails with exit status 1 for a zero-width name', async () => {
    const slug = uniqueSlug('cli-blank');

    const result = await cli('tenants:create', '--slug', slug, '--name', '\u200b');
    const tenant = await t.app.get<TenancyAdmin>(TENANCY_ADMIN).findTenantBySlug(slug);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--name: must not be blank');
    expect(tenant).toBeNull();
  });

  it('fails with exit status 1 for a duplicate slug', async () => {
    const slug = uniqueSlug('cli-dup');
    await cli('tenants:create', '--slug', slug, '--name', 'First');

    const result = await cli('tenants:create', '--slug', slug, '--name', 'Second');

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`A tenant with the slug "${slug}" already exists.`);
  });

  it('fails with exit status 1 for an unknown tenant', async () => {
    const result = await cli('tokens:create', '--tenant', 'no-such-tenant', '--role', 'owner', '--label', 'x');

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No such tenant with the slug or id "no-such-tenant".');
  });

  it('fails with exit status 1 for a tenant role without a tenant', async () => {
    const result = await cli('tokens:create', '--role', 'owner', '--label', 'x');

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--tenant: is required for role owner');
  });

  it('fails with exit status 1 for a missing required option', async () => {
    const result = await cli('tokens:create', '--label', 'x');

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("required option '--role <role>' not specified");
  });

  it('rejects option bytes that are not UTF-8', async () => {
    // Through a shell, so the name really carries the Latin-1 byte E9, which Node reads as U+FFFD.
    const slug = `cli-bytes-${randomUUID().slice(0, 8)}`;
    const result = await runWith('sh', ['-c', `exec "$0" "$1" tenants:create --slug "$2" --name "$(printf 'Caf\\351 Training')"`, process.execPath, CLI, slug]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--name: is not UTF-8 text: check the terminal's encoding");
    expect((await cli('tenants:create', '--slug', slug, '--name', 'Café Training')).code).toBe(0);
  });

  it('rejects a stray argument', async () => {
    const slug = `cli-stray-${randomUUID().slice(0, 8)}`;

    // An unquoted name: "Training" is left over as a positional argument.
    const result = await cli('tenants:create', '--slug', slug, '--name', 'Cafe', 'Training');

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Unexpected argument "Training"');
    expect(await t.app.get<TenancyAdmin>(TENANCY_ADMIN).findTenantBySlug(slug)).toBeNull();
  });

  it('rejects an OPS_OPERATOR that is not UTF-8', async () => {
    const result = await runWith(process.execPath, [CLI, 'tenants:create', '--slug', `cli-op-${randomUUID().slice(0, 8)}`, '--name', 'Acme'], { OPS_OPERATOR: 'op\ufffd' });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("OPS_OPERATOR: is not UTF-8 text: check the terminal's encoding");
  });

  it('rejects an OPS_PASSWORD that is not UTF-8', async () => {
    const result = await runWith(process.execPath, [CLI, 'users:create', '--operator', '--email', uniqueEmail('bytes')], { OPS_PASSWORD: '\ufffd'.repeat(12) });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--password: is not UTF-8 text: check the terminal's encoding");
  });

  it('names OPS_PASSWORD for a missing password', async () => {
    const result = await cli('users:create', '--operator', '--email', uniqueEmail('nopass'));

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--password: is required; give --password or set OPS_PASSWORD');
  });

  it.each(['tenants:create', 'tenants:live-mode', 'users:create', 'tokens:create', 'tokens:revoke'])('prints help for %s', async (command) => {
    const result = await cli(command, '--help');

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: npm run ops -- ${command} [options]`);
  });
});
