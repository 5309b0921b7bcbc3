#!/usr/bin/env node
// Webhook intake against the ceiling server, alternating A B A B on the same
// event stream: throughput and p99 ratios, non-2xx, rows stored exactly once,
// and the service's resident memory under load.
// usage: node bench/webhook-intake.js [flags] (--help lists the flags and their defaults)
'use strict';

const h = require('./lib/harness');
const { runLoad } = require('./lib/load');
const { INTAKE_SECRET, rssMegabytes, startIntakeService, storedRows } = require('./lib/intake-service');
const { NO_RECORD_FLAG, databaseFlag, readFlags } = require('./lib/options');

const values = readFlags({
  script: 'bench/webhook-intake.js',
  summary:
    'Measures webhook intake against the ceiling server, alternating A B A B on the same event stream: ' +
    "throughput and p99 ratios, non-2xx responses, events stored exactly once, and the service's peak resident memory.",
  flags: {
    rounds: { type: 'integer', default: 2, description: 'measured rounds, each a ceiling run followed by a service run' },
    seconds: { type: 'integer', default: 10, description: 'seconds of load in each run' },
    connections: { type: 'integer', default: 50, description: 'concurrent connections of the load' },
    database: databaseFlag('billing_bench_suite_intake', { ceiling: true }),
    'no-record': NO_RECORD_FLAG,
  },
});
const ROUNDS = values.rounds;
const SECONDS = values.seconds;
const CONNECTIONS = values.connections;
const DATABASE = values.database;

async function sampleRss(pid, work) {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMegabytes(pid) ?? 0);
  }, 250);
  try {
    const result = await work();

    return { ...result, peakRssMb: Math.round(peak) };
  } finally {
    clearInterval(timer);
  }
}

async function main() {
  h.ensureBuilt();
  const ceilingDb = await h.freshDatabase(`${DATABASE}_ceiling`);
  await h.query(
    ceilingDb,
    `create table events (id bigserial primary key, tenant_id text not null, stripe_event_id text not null, type text not null,
       payload jsonb not null, received_at timestamptz not null default now(), unique (tenant_id, stripe_event_id))`,
  );
  const { service, serviceDb, redisUrl, targets: serviceTarget } = await startIntakeService({
    database: DATABASE,
    logName: 'intake-service.log',
    queuePrefix: '{billing-bench}',
  });

  const ceilingPort = await h.freePort();
  const ceiling = h.start('ceiling', 'bench/ceiling-server.js', {
    QUEUE: 'bullmq',
    PORT: String(ceilingPort),
    SECRET: INTAKE_SECRET,
    DATABASE_URL: ceilingDb,
    REDIS_URL: redisUrl,
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const ceilingTarget = [{ url: `http://127.0.0.1:${ceilingPort}/`, secret: INTAKE_SECRET }];

  // Warm both up so the first measured round is not the JIT's.
  await runLoad({ targets: ceilingTarget, connections: CONNECTIONS, seconds: 3 });
  await runLoad({ targets: serviceTarget, connections: CONNECTIONS, seconds: 3 });

  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const ceilingResult = await runLoad({ targets: ceilingTarget, connections: CONNECTIONS, seconds: SECONDS });
    const { acceptedIds, ...serviceResult } = await sampleRss(service.pid, () =>
      runLoad({ targets: serviceTarget, connections: CONNECTIONS, seconds: SECONDS }),
    );
    const acceptedStored = await storedRows(serviceDb, acceptedIds);
    delete ceilingResult.acceptedIds;
    rounds.push({ round, ceiling: ceilingResult, service: { ...serviceResult, acceptedStored } });
    console.log(
      `round ${round}: ceiling ${ceilingResult.rps.toFixed(0)} req/s p99 ${ceilingResult.p99} ms; ` +
        `service ${serviceResult.rps.toFixed(0)} req/s p99 ${serviceResult.p99} ms, ${acceptedStored.rows} rows for ${acceptedStored.accepted} accepted`,
    );
  }

  const duplicates = Number(
    (await h.query(serviceDb, 'SELECT count(*) AS n FROM (SELECT stripe_event_id FROM webhook_events GROUP BY tenant_id, stripe_event_id HAVING count(*) > 1) d'))[0].n,
  );
  const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const throughputRatio = mean(rounds.map((r) => r.service.rps / r.ceiling.rps));
  const p99Ratio = mean(rounds.map((r) => r.service.p99 / Math.max(r.ceiling.p99, 1)));
  const non2xx = rounds.reduce((sum, r) => sum + r.service.non2xx + r.service.errors + r.service.timeouts, 0);
  const storedExactlyOnce =
    duplicates === 0 &&
    rounds.every((r) => r.service.acceptedStored.rows === r.service.acceptedStored.accepted && r.service.acceptedStored.distinct === r.service.acceptedStored.accepted);
  const peakRss = Math.max(...rounds.map((r) => r.service.peakRssMb));

  const table = h.markdownTable(
    ['measure', 'result', 'target', 'met'],
    [
      ['throughput, service / ceiling', throughputRatio.toFixed(2), '≥ 0.80', throughputRatio >= 0.8 ? 'yes' : 'no'],
      ['p99 latency, service / ceiling', p99Ratio.toFixed(2), '≤ 1.30', p99Ratio <= 1.3 ? 'yes' : 'no'],
      ['non-2xx, errors, timeouts', String(non2xx), '0', non2xx === 0 ? 'yes' : 'no'],
      ['accepted events stored exactly once', storedExactlyOnce ? 'yes' : 'no', 'yes', storedExactlyOnce ? 'yes' : 'no'],
      ['peak resident memory (MB)', String(peakRss), '≤ 300', peakRss <= 300 ? 'yes' : 'no'],
    ],
  );
  console.log(`\nWebhook intake, ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} rounds A B\n\n${table}\n`);
  if (!values['no-record']) {
    h.record(`Webhook intake (${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} rounds)`, table, rounds);
  }

  await h.stop(ceiling);
  await h.stop(service);
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
