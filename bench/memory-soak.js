#!/usr/bin/env node
// Resident memory of the service under the intake load, held for minutes:
// peak RSS against the 300 MB target, and growth, the lowest RSS of the last
// minute against the lowest of the first minute after warm-up.
// usage: node bench/memory-soak.js [--minutes 5] [--connections 50] [--no-record]
'use strict';

const { parseArgs } = require('node:util');
const h = require('./lib/harness');
const { runLoad } = require('./lib/load');
const { rssMegabytes, startIntakeService, storedRows } = require('./lib/intake-service');

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    'no-record': { type: 'boolean', default: false },
  },
});
const MINUTES = Number(values.minutes);
const CONNECTIONS = Number(values.connections);
const PEAK_TARGET_MB = 300;
/**
 * Allowed rise of the last minute's lowest RSS over the first minute's. RSS
 * rises and falls by tens of MB between V8's full collections, so the lowest
 * sample of a minute (just after one) is what a leak would lift.
 */
const GROWTH_TOLERANCE = 0.05;
const SAMPLE_MS = 1000;

async function main() {
  if (!Number.isFinite(MINUTES) || MINUTES < 2) {
    throw new Error(`--minutes must be a number of at least 2, got ${values.minutes}`);
  }

  h.ensureBuilt();
  const { service, serviceDb, targets } = await startIntakeService({
    database: 'billing_bench_memory',
    logName: 'memory-soak-service.log',
    queuePrefix: '{billing-bench-memory}',
  });

  // Warm-up, so the JIT and the connection pools are at their working size before sampling.
  await runLoad({ targets, connections: CONNECTIONS, seconds: 10 });
  const warmRssMb = rssMegabytes(service.pid);

  const samples = [];
  const startedAt = Date.now();
  const timer = setInterval(() => {
    const rss = rssMegabytes(service.pid);
    if (rss !== null) {
      samples.push({ seconds: (Date.now() - startedAt) / 1000, rss });
    }
  }, SAMPLE_MS);
  const { acceptedIds, ...load } = await runLoad({ targets, connections: CONNECTIONS, seconds: MINUTES * 60 });
  clearInterval(timer);
  const acceptedStored = await storedRows(serviceDb, acceptedIds);

  const perMinute = [];
  for (let minute = 0; minute < MINUTES; minute++) {
    const inMinute = samples.filter((sample) => sample.seconds >= minute * 60 && sample.seconds < (minute + 1) * 60).map((sample) => sample.rss);
    perMinute.push({ minute: minute + 1, minRssMb: Math.round(Math.min(...inMinute)), maxRssMb: Math.round(Math.max(...inMinute)) });
  }
  const peakRssMb = Math.round(Math.max(...samples.map((sample) => sample.rss)));
  const first = perMinute[0].minRssMb;
  const last = perMinute[perMinute.length - 1].minRssMb;
  const growth = (last - first) / first;
  const non2xx = load.non2xx + load.errors + load.timeouts;
  const storedExactlyOnce = acceptedStored.rows === acceptedStored.accepted && acceptedStored.distinct === acceptedStored.accepted;

  const table = h.markdownTable(
    ['measure', 'result', 'target', 'met'],
    [
      ['peak resident memory (MB)', String(peakRssMb), `≤ ${PEAK_TARGET_MB}`, peakRssMb <= PEAK_TARGET_MB ? 'yes' : 'no'],
      [
        'lowest RSS, last minute vs first (MB)',
        `${last} vs ${first} (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %)`,
        `≤ +${GROWTH_TOLERANCE * 100} %`,
        growth <= GROWTH_TOLERANCE ? 'yes' : 'no',
      ],
      ['requests per second', load.rps.toFixed(0), '', ''],
      ['non-2xx, errors, timeouts', String(non2xx), '0', non2xx === 0 ? 'yes' : 'no'],
      ['accepted events stored exactly once', storedExactlyOnce ? 'yes' : 'no', 'yes', storedExactlyOnce ? 'yes' : 'no'],
    ],
  );
  console.log(`\nMemory soak, intake load at ${CONNECTIONS} connections for ${MINUTES} min\n\n${table}\n`);
  if (!values['no-record']) {
    h.record(`Memory soak (intake load, ${CONNECTIONS} connections, ${MINUTES} min)`, table, {
      rssAfterWarmUpMb: warmRssMb === null ? null : Math.round(warmRssMb),
      perMinute,
      load,
      acceptedStored,
    });
  }

  await h.stop(service);
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
