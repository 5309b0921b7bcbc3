#!/usr/bin/env node
// Resident memory of the service under the intake load, held for minutes:
// peak RSS against the 300 MB target, and growth, the lowest RSS of the last
// minute against the lowest of the first minute after warm-up. The warm-up
// runs the same load for two minutes by default: under it, V8's old space
// fills toward the start size the service sets (--initial-old-space-size)
// in about that time, and growth after it is what a leak would show. The
// peak counts the warm-up's samples too.
// usage: node bench/memory-soak.js [flags] (--help lists the flags and their defaults)
'use strict';

const h = require('./lib/harness');
const { runLoad } = require('./lib/load');
const { rssMegabytes, startIntakeService, storedRows } = require('./lib/intake-service');
const { NO_RECORD_FLAG, databaseFlag, readFlags } = require('./lib/options');

const values = readFlags({
  script: 'bench/memory-soak.js',
  summary:
    "Measures the service's resident memory under the webhook intake load held for minutes: peak RSS against " +
    '300 MB, and growth of the lowest RSS from the first minute after the warm-up to the last.',
  flags: {
    minutes: { type: 'number', default: 5, min: 2, description: 'minutes of load measured after the warm-up, at least 2 because growth compares the first minute with the last' },
    'warm-up-seconds': { type: 'number', default: 120, min: 10, description: 'seconds of the same load before the measured minutes' },
    connections: { type: 'integer', default: 50, description: 'concurrent connections of the load' },
    database: databaseFlag('billing_bench_suite_memory'),
    'no-record': NO_RECORD_FLAG,
  },
});
const MINUTES = values.minutes;
const WARM_UP_SECONDS = values['warm-up-seconds'];
const CONNECTIONS = values.connections;
const PEAK_TARGET_MB = 300;
/**
 * Allowed rise of the last minute's lowest RSS over the first minute's. RSS
 * rises and falls by tens of MB between V8's full collections, so the lowest
 * sample of a minute (just after one) is what a leak would lift.
 */
const GROWTH_TOLERANCE = 0.05;
const SAMPLE_MS = 1000;

async function main() {
  h.ensureBuilt();
  const { service, serviceDb, targets } = await startIntakeService({
    database: values.database,
    logName: 'memory-soak-service.log',
    queuePrefix: '{billing-bench-memory}',
  });

  // Sampled from the warm-up's start, so the peak covers it. Growth is measured from its end.
  const warmUpSamples = [];
  const samples = [];
  let current = warmUpSamples;
  let startedAt = Date.now();
  const timer = setInterval(() => {
    const rss = rssMegabytes(service.pid);
    if (rss !== null) {
      current.push({ seconds: (Date.now() - startedAt) / 1000, rss });
    }
  }, SAMPLE_MS);

  // Warm-up: the JIT, the connection pools and V8's heap reach their working size.
  await runLoad({ targets, connections: CONNECTIONS, seconds: WARM_UP_SECONDS });
  const warmRssMb = rssMegabytes(service.pid);
  current = samples;
  startedAt = Date.now();
  const { acceptedIds, ...load } = await runLoad({ targets, connections: CONNECTIONS, seconds: MINUTES * 60 });
  clearInterval(timer);
  const acceptedStored = await storedRows(serviceDb, acceptedIds);

  const perMinute = [];
  for (let minute = 0; minute < MINUTES; minute++) {
    const inMinute = samples.filter((sample) => sample.seconds >= minute * 60 && sample.seconds < (minute + 1) * 60).map((sample) => sample.rss);
    perMinute.push({ minute: minute + 1, minRssMb: Math.round(Math.min(...inMinute)), maxRssMb: Math.round(Math.max(...inMinute)) });
  }
  const peakRssMb = Math.round(Math.max(...[...warmUpSamples, ...samples].map((sample) => sample.rss)));
  const warmUpPeakRssMb = warmUpSamples.length === 0 ? null : Math.round(Math.max(...warmUpSamples.map((sample) => sample.rss)));
  const first = perMinute[0].minRssMb;
  const last = perMinute[perMinute.length - 1].minRssMb;
  const growth = (last - first) / first;
  const non2xx = load.non2xx + load.errors + load.timeouts;
  const storedExactlyOnce = acceptedStored.rows === acceptedStored.accepted && acceptedStored.distinct === acceptedStored.accepted;

  const table = h.markdownTable(
    ['measure', 'result', 'target', 'met'],
    [
      ['peak resident memory, warm-up included (MB)', String(peakRssMb), `≤ ${PEAK_TARGET_MB}`, peakRssMb <= PEAK_TARGET_MB ? 'yes' : 'no'],
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
  console.log(`\nMemory soak, intake load at ${CONNECTIONS} connections for ${MINUTES} min after a ${WARM_UP_SECONDS} s warm-up\n\n${table}\n`);
  if (!values['no-record']) {
    h.record(`Memory soak (intake load, ${CONNECTIONS} connections, ${MINUTES} min after ${WARM_UP_SECONDS} s of warm-up)`, table, {
      warmUpPeakRssMb,
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
