// Starts what a benchmark beyond intake needs, all on 127.0.0.1: a Redis
// server of its own (so queue keys and the ceiling's backlog never meet other
// runs on the machine's Redis), the Stripe emulator, the built service in one
// or more roles, and the ceiling server with its own database. Builds on
// harness.js, which stops every child process on exit.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');
const { runLoad } = require('./load');

const CEILING_SECRET = 'whsec_benchmarkceilingsecret001';
const LOG_DIR = path.join(h.ROOT, 'bench', 'results');

/** Start `redis-server` on a free port with persistence off; returns its URL and process. */
async function startRedis() {
  const port = await h.freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  process.on('exit', () => child.exitCode === null && child.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const reachable = await new Promise((resolve) => {
      const socket = require('node:net').connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (reachable) {
      return { url, child };
    }
    if (Date.now() > deadline) {
      throw new Error(`redis-server did not listen on port ${port} within 10 s; is redis-server installed?`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The entry script and environment that make `role` write a V8 CPU profile to
 * bench/results/profiles when BENCH_CPU_PROF lists it (e.g. BENCH_CPU_PROF=api,worker).
 * The profile is written on SIGTERM, so stop the stack with stopStack().
 */
function entryFor(name, role) {
  const roles = (process.env.BENCH_CPU_PROF ?? '').split(',').map((value) => value.trim());
  if (!roles.includes(role)) {
    return { script: 'dist/src/main.js', env: {} };
  }
  const directory = path.join(LOG_DIR, 'profiles');
  fs.mkdirSync(directory, { recursive: true });

  return { script: 'bench/lib/profiled-main.js', env: { BENCH_PROFILE_FILE: path.join(directory, `${name}-${role}-${Date.now()}.cpuprofile`) } };
}

/** Stop the service processes with SIGTERM, so they shut down cleanly and write any CPU profile. */
async function stopStack(stack) {
  for (const child of Object.values(stack.processes)) {
    await h.stop(child);
  }
}

/**
 * Start Redis, the emulator and the service (`roles`, each its own process,
 * from dist/ with NODE_ENV=production) on a fresh database named `database`.
 * Returns the URLs, the processes, and an operator token.
 */
async function startStack({ database, roles = ['api'], name, extraEnv = {} }) {
  h.ensureBuilt();
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const databaseUrl = await h.freshDatabase(database);
  h.runMigrations(databaseUrl);
  const redis = await startRedis();

  const [emulatorPort, servicePort] = await Promise.all([h.freePort(), h.freePort()]);
  const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
  const serviceUrl = `http://127.0.0.1:${servicePort}`;
  h.start('emulator', 'dist/libs/stripe-emulator/src/main.js', { STRIPE_EMULATOR_PORT: String(emulatorPort) }, { logFile: path.join(LOG_DIR, `${name}-emulator.log`) });
  await h.waitForHttp(`${emulatorUrl}/_emulator/health`);

  const env = {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    APP_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
    STRIPE_API_BASE: emulatorUrl,
    PUBLIC_BASE_URL: serviceUrl,
    QUEUE_PREFIX: `{${name}}`,
    LOG_LEVEL: 'warn',
    // One token sends every request of a benchmark, and the default API limit rejects more than 600 a minute with 429.
    RATE_LIMIT_API: '100000000/1m',
    ...extraEnv,
  };
  const processes = {};
  for (const role of roles) {
    // Only the api role listens on the service URL; the others get a port of their own for /health.
    const port = role === 'worker' ? await h.freePort() : servicePort;
    const entry = entryFor(name, role);
    processes[role] = h.start(role, entry.script, { ...env, ...entry.env, APP_ROLE: role, PORT: String(port) }, {
      logFile: path.join(LOG_DIR, `${name}-${role}.log`),
    });
    await h.waitForHttp(`http://127.0.0.1:${port}/health/ready`);
  }

  process.env.NODE_ENV = 'test';
  const operatorToken = h.ops(databaseUrl, ['tokens:create', '--role', 'operator', '--label', 'bench']);

  return { databaseUrl, redisUrl: redis.url, emulatorUrl, serviceUrl, processes, operatorToken };
}

/**
 * Call `work` again once when it failed because the server closed an idle
 * keep-alive connection as the request went out (undici's UND_ERR_SOCKET).
 * The ops CLI calls between requests take seconds on a loaded machine, longer
 * than Node's 5 s keep-alive timeout, so the reused socket can be half-closed;
 * such a request never reached the server.
 */
async function retryClosedSocket(work) {
  try {
    return await work();
  } catch (error) {
    if (error?.cause?.code !== 'UND_ERR_SOCKET') {
      throw error;
    }

    return work();
  }
}

/**
 * Seed `count` connected tenants named `<prefix>-<n>` the way harness.seedTenant
 * does. With `ownSecret` each endpoint verifies with a secret the benchmark
 * knows, so it can sign events itself; the emulator's own deliveries then fail
 * verification. Without it the endpoint keeps the secret the emulator
 * registered, and the emulator's deliveries are accepted as in production.
 */
async function seedTenants(stack, { count, prefix, ownSecret = true }) {
  const tenants = [];
  for (let index = 1; index <= count; index++) {
    const slug = `${prefix}-${index}`;
    const secret = `whsec_bench${prefix.replace(/[^a-z0-9]/g, '')}tenant${String(index).padStart(4, '0')}`;
    h.ops(stack.databaseUrl, ['tenants:create', '--slug', slug, '--name', `Bench ${slug}`]);
    const ownerToken = h.ops(stack.databaseUrl, ['tokens:create', '--tenant', slug, '--role', 'owner', '--label', 'bench']);
    const account = await retryClosedSocket(() => h.http('POST', `${stack.emulatorUrl}/_emulator/accounts`));
    await retryClosedSocket(() =>
      h.http('POST', `${stack.serviceUrl}/api/v1/settings/billing/stripe`, ownerToken, {
        publishableKey: account.test.publishableKey,
        secretKey: account.test.secretKey,
      }),
    );
    const billing = await retryClosedSocket(() => h.http('GET', `${stack.serviceUrl}/api/v1/settings/billing`, ownerToken));
    const [tenant] = await h.query(stack.databaseUrl, 'SELECT id FROM tenants WHERE slug = $1', [slug]);
    if (!ownSecret) {
      const webhookUrl = billing.webhook.url.replace(/^https?:\/\/[^/]+/, stack.serviceUrl);
      tenants.push({ tenantId: tenant.id, slug, secret: null, ownerToken, webhookUrl, accountId: account.id, stripeTestSecretKey: account.test.secretKey });
      continue;
    }
    const response = await retryClosedSocket(() =>
      fetch(`${stack.serviceUrl}/api/v1/ops/tenants/${tenant.id}/webhook-secret`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${stack.operatorToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ secret }),
      }),
    );
    if (response.status !== 204) {
      throw new Error(`setting the webhook secret of ${slug} failed with status ${response.status}: ${await response.text()}`);
    }
    const webhookUrl = billing.webhook.url.replace(/^https?:\/\/[^/]+/, stack.serviceUrl);
    tenants.push({ tenantId: tenant.id, slug, secret, ownerToken, webhookUrl, accountId: account.id, stripeTestSecretKey: account.test.secretKey });
  }

  return tenants;
}

/**
 * Start the ceiling server on its own database and Redis; `measure()` then
 * loads it for `seconds` at `connections` and returns autocannon's figures.
 */
async function startCeiling({ database, redisUrl }) {
  const databaseUrl = await h.freshDatabase(database);
  await h.query(
    databaseUrl,
    `create table events (id bigserial primary key, tenant_id text not null, stripe_event_id text not null, type text not null,
       payload jsonb not null, received_at timestamptz not null default now(), unique (tenant_id, stripe_event_id))`,
  );
  const port = await h.freePort();
  const child = h.start('ceiling', 'bench/ceiling-server.js', { QUEUE: 'bullmq', PORT: String(port), SECRET: CEILING_SECRET, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl });
  const targets = [{ url: `http://127.0.0.1:${port}/`, secret: CEILING_SECRET }];
  await waitForPort(port);

  return {
    child,
    async measure({ seconds = 10, connections = 50 } = {}) {
      const cpuBefore = cpuSeconds(child.pid);
      const { acceptedIds, ...result } = await runLoad({ targets, connections, seconds });
      const cpuMsPerRequest = cpuBefore === null ? null : Number((((cpuSeconds(child.pid) - cpuBefore) * 1000) / Math.max(result.total, 1)).toFixed(3));

      return { ...result, accepted: acceptedIds.length, cpuMsPerRequest };
    },
  };
}

async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise((resolve) => {
      const socket = require('node:net').connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
}

/** Poll `check` every `intervalMs` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
async function pollUntil(check, { timeoutMs, intervalMs = 250 }) {
  const deadline = Date.now() + timeoutMs;
  let value = await check();
  while (!value && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    value = await check();
  }

  return value;
}

/**
 * Sample pg_stat_activity of `databaseName` every `intervalMs` until stop() is
 * called; stop() returns the busiest (wait event, statement) pairs with their
 * share of samples. pg_stat_statements needs a server preload that benchmarks
 * must not change, so this is how a run shows where PostgreSQL time goes.
 */
function sampleDatabaseActivity(databaseUrl, databaseName, { intervalMs = 50 } = {}) {
  const { Client } = require('pg');
  const client = new Client({ connectionString: databaseUrl });
  const counts = new Map();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    await client.connect();
    while (running) {
      const { rows } = await client.query(
        `SELECT state, coalesce(wait_event_type || ':' || wait_event, 'cpu') AS wait, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query
           FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle'`,
        [databaseName],
      );
      samples += 1;
      for (const row of rows) {
        const key = `${row.state} | ${row.wait} | ${row.query}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    await client.end();
  })();

  return {
    async stop(top = 15) {
      running = false;
      await loop;

      return {
        samples,
        busiest: [...counts]
          .sort((a, b) => b[1] - a[1])
          .slice(0, top)
          .map(([key, count]) => ({ activeBackendsAverage: Number((count / samples).toFixed(2)), key })),
      };
    },
  };
}

/**
 * CPU time (user + system, seconds) the process `pid` has used so far, from
 * /proc (Linux only; null elsewhere). The difference over a round divided by
 * the work done is a cost per event that drifts less with machine load than
 * wall-clock rates do.
 */
function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat(5), counted in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Percentile `p` (0..100) of an ascending array, nearest-rank. */
function percentile(sorted, p) {
  if (sorted.length === 0) {
    return null;
  }
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));

  return sorted[rank];
}

function mean(values) {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

module.exports = { CEILING_SECRET, LOG_DIR, cpuSeconds, entryFor, mean, percentile, pollUntil, retryClosedSocket, sampleDatabaseActivity, seedTenants, startCeiling, startRedis, startStack, stopStack, waitForPort };
