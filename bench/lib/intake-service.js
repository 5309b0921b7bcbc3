// The service as the intake benchmarks run it: a fresh database, the emulator,
// the built service with APP_ROLE=api on 127.0.0.1, and one connected tenant
// whose webhook endpoint verifies with a known secret.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');
const { entryFor, startRedis } = require('./stack');

const INTAKE_SECRET = 'whsec_benchmarkintakesecret0001';

/** Resident memory of a process in MB, or null once it has exited. */
function rssMegabytes(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');

    return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
  } catch {
    return null;
  }
}

/**
 * Start a Redis, the emulator and the service on a fresh database named
 * `database`, logging to bench/results/`logName`. Returns the service child
 * process, its database and Redis URLs and the target list for runLoad.
 */
async function startIntakeService({ database, logName, queuePrefix }) {
  const serviceDb = await h.freshDatabase(database);
  h.runMigrations(serviceDb);

  const [emulatorPort, servicePort] = await Promise.all([h.freePort(), h.freePort()]);
  const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
  const serviceUrl = `http://127.0.0.1:${servicePort}`;
  const logDir = path.join(h.ROOT, 'bench', 'results');
  fs.mkdirSync(logDir, { recursive: true });

  // A Redis of its own, stopped with the benchmark, so the jobs intake adds
  // never pile up in the machine's Redis.
  const redis = await startRedis();
  h.start('emulator', 'dist/libs/stripe-emulator/src/main.js', { STRIPE_EMULATOR_PORT: String(emulatorPort) });
  await h.waitForHttp(`${emulatorUrl}/_emulator/health`);
  const entry = entryFor('intake', 'api');
  const service = h.start(
    'service',
    entry.script,
    {
      ...entry.env,
      NODE_ENV: 'production',
      APP_ROLE: 'api',
      PORT: String(servicePort),
      DATABASE_URL: serviceDb,
      APP_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
      STRIPE_API_BASE: emulatorUrl,
      PUBLIC_BASE_URL: serviceUrl,
      QUEUE_PREFIX: queuePrefix,
      REDIS_URL: redis.url,
      LOG_LEVEL: 'warn',
    },
    { logFile: path.join(logDir, logName) },
  );
  await h.waitForHttp(`${serviceUrl}/health/ready`);

  const previousNodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'test';
  const operatorToken = h.ops(serviceDb, ['tokens:create', '--role', 'operator', '--label', 'bench']);
  const tenant = await h.seedTenant({ databaseUrl: serviceDb, serviceUrl, emulatorUrl, operatorToken, slug: 'bench-intake', secret: INTAKE_SECRET });
  process.env.NODE_ENV = previousNodeEnv;

  return {
    service,
    serviceDb,
    redisUrl: redis.url,
    targets: [{ url: tenant.webhookUrl.replace(/^https?:\/\/[^/]+/, serviceUrl), secret: INTAKE_SECRET }],
  };
}

/** Count the rows and distinct event ids stored for the accepted event ids. */
async function storedRows(serviceDb, acceptedIds) {
  const stored = await h.query(
    serviceDb,
    'SELECT count(*) AS rows, count(DISTINCT stripe_event_id) AS distinct_ids FROM webhook_events WHERE stripe_event_id = ANY($1)',
    [acceptedIds],
  );

  return { accepted: acceptedIds.length, rows: Number(stored[0].rows), distinct: Number(stored[0].distinct_ids) };
}

module.exports = { INTAKE_SECRET, rssMegabytes, startIntakeService, storedRows };
