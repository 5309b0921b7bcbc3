// Shared plumbing of the benchmarks: a fresh database, the built service and
// emulator as child processes on 127.0.0.1, a seeded tenant, and the record
// appended to docs/benchmarks.md. Every process it starts is stopped on exit.
'use strict';

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');

const ROOT = path.join(__dirname, '..', '..');
const PG_BASE = process.env.BENCH_PG_BASE || 'postgres://postgres@127.0.0.1:5432';
const children = new Set();

function cleanUp() {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
    }
  }
}
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function ensureBuilt() {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'src', 'main.js'))) {
    console.log('Building the service (npm run build)…');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
}

/** Drop and recreate a database; returns its URL. */
async function freshDatabase(name) {
  const admin = new Client({ connectionString: `${PG_BASE}/postgres` });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }

  return `${PG_BASE}/${name}`;
}

async function query(databaseUrl, sql, params = []) {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Return the Node.js options of `npm start` (e.g. its heap limit), so the service
 * runs here with the flags it runs with in production.
 */
function startScriptNodeOptions() {
  const startScript = require(path.join(ROOT, 'package.json')).scripts.start;
  const words = startScript.split(/\s+/);
  if (words[0] !== 'node') {
    throw new Error(`package.json's start script should run node, got: ${startScript}`);
  }

  return words.slice(1).filter((word) => word.startsWith('--'));
}

/** Start `script` with Node.js; the service's entry scripts get the options of `npm start`. */
function start(name, script, env, { logFile } = {}) {
  const serviceEntry = script === 'dist/src/main.js' || script === 'bench/lib/profiled-main.js';
  const nodeOptions = serviceEntry ? startScriptNodeOptions() : [];
  const child = spawn(process.execPath, [...nodeOptions, script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const sink = logFile ? fs.createWriteStream(logFile) : null;
  child.stdout.on('data', (chunk) => sink?.write(chunk));
  child.stderr.on('data', (chunk) => (sink ? sink.write(chunk) : process.stderr.write(`[${name}] ${chunk}`)));
  children.add(child);
  child.on('exit', () => children.delete(child));

  return child;
}

async function stop(child) {
  if (!child || child.exitCode !== null) {
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitForHttp(url, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not respond within ${timeoutMs} ms; see the process log under bench/results/`);
}

function runMigrations(databaseUrl) {
  execFileSync(process.execPath, ['dist/src/database/migrate.js'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl },
    stdio: 'pipe',
  });
}

function ops(databaseUrl, args) {
  const output = execFileSync(process.execPath, ['dist/src/ops/cli.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });

  return output.trim().split('\n').pop().trim();
}

/**
 * fetch, sent again once when the pooled connection turns out to be closed.
 * ops() blocks the event loop for seconds, so fetch cannot notice that a
 * server closed an idle keep-alive connection meanwhile and reuses it; the
 * server never saw that request.
 */
async function fetchOnFreshSocket(url, init) {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (error?.cause?.code !== 'UND_ERR_SOCKET') {
      throw error;
    }

    return fetch(url, init);
  }
}

async function http(method, url, token, body) {
  const response = await fetchOnFreshSocket(url, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${url} failed with status ${response.status}: ${text}`);
  }

  return text ? JSON.parse(text) : null;
}

/**
 * Create a connected tenant whose webhook endpoint verifies with `secret`. The
 * endpoint secret is set the way an operator sets it for a hand-pasted URL.
 */
async function seedTenant({ databaseUrl, serviceUrl, emulatorUrl, operatorToken, slug, secret }) {
  ops(databaseUrl, ['tenants:create', '--slug', slug, '--name', `Bench ${slug}`]);
  const ownerToken = ops(databaseUrl, ['tokens:create', '--tenant', slug, '--role', 'owner', '--label', 'bench']);
  const account = await http('POST', `${emulatorUrl}/_emulator/accounts`);
  await http('POST', `${serviceUrl}/api/v1/settings/billing/stripe`, ownerToken, {
    publishableKey: account.test.publishableKey,
    secretKey: account.test.secretKey,
  });
  const billing = await http('GET', `${serviceUrl}/api/v1/settings/billing`, ownerToken);
  const tenant = (await query(databaseUrl, 'SELECT id FROM tenants WHERE slug = $1', [slug]))[0];
  await fetchOnFreshSocket(`${serviceUrl}/api/v1/ops/tenants/${tenant.id}/webhook-secret`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${operatorToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ secret }),
  }).then((response) => {
    if (response.status !== 204) {
      throw new Error(`setting the webhook secret failed with status ${response.status}`);
    }
  });

  return { tenantId: tenant.id, ownerToken, webhookUrl: billing.webhook.url, accountId: account.id };
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function machine() {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node.js ${process.version}`;
}

/** Append one run to docs/benchmarks.md under a dated heading. */
function record(title, table, raw) {
  const file = path.join(ROOT, 'docs', 'benchmarks.md');
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, '# Benchmark results\n\nAppended by `npm run bench` and the scripts in `bench/`; newest last.\n');
  }
  const entry = [
    '',
    `## ${title}: ${new Date().toISOString()}`,
    '',
    `Commit ${gitCommit()}; machine: ${machine()}.`,
    '',
    table,
    '',
    '<details><summary>Raw figures</summary>',
    '',
    '```json',
    JSON.stringify(raw, null, 2),
    '```',
    '',
    '</details>',
    '',
  ].join('\n');
  fs.appendFileSync(file, entry);
}

function markdownTable(headers, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;

  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

module.exports = {
  ROOT,
  ensureBuilt,
  freePort,
  freshDatabase,
  http,
  markdownTable,
  ops,
  query,
  record,
  runMigrations,
  seedTenant,
  start,
  stop,
  waitForHttp,
};
