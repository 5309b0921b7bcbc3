#!/usr/bin/env node
// Runs every benchmark in bench/ one after another, each as its own process so
// one run's servers are stopped before the next starts, then lists how each
// ended. Arguments after `--` go to every script (e.g. `-- --no-record`).
// usage: node bench/all.js [--only end-to-end,payments-latency] [-- ARGS]
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// memory-soak.js runs only when it exists in this checkout.
const BENCHMARKS = ['webhook-intake', 'end-to-end', 'invoice-numbers', 'payments-latency', 'memory-soak'];

const separator = process.argv.indexOf('--');
const ownArgs = separator === -1 ? process.argv.slice(2) : process.argv.slice(2, separator);
const passedArgs = separator === -1 ? [] : process.argv.slice(separator + 1);
const onlyIndex = ownArgs.indexOf('--only');
const only = onlyIndex === -1 ? null : (ownArgs[onlyIndex + 1] ?? '').split(',').filter(Boolean);
const unknown = only ? only.filter((name) => !BENCHMARKS.includes(name)) : [];
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.join(', ')}`);
  process.exit(2);
}

const outcomes = [];
for (const name of BENCHMARKS) {
  const script = path.join(__dirname, `${name}.js`);
  if ((only && !only.includes(name)) || !fs.existsSync(script)) {
    continue;
  }
  console.log(`\n=== ${name} ===`);
  const started = Date.now();
  const result = spawnSync(process.execPath, [script, ...passedArgs], { stdio: 'inherit' });
  outcomes.push({ name, status: result.status ?? `signal ${result.signal}`, minutes: ((Date.now() - started) / 60_000).toFixed(1) });
}

console.log('\nbenchmark           exit  minutes');
for (const outcome of outcomes) {
  console.log(`${outcome.name.padEnd(20)}${String(outcome.status).padEnd(6)}${outcome.minutes}`);
}
process.exit(outcomes.every((outcome) => outcome.status === 0) ? 0 : 1);
