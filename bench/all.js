#!/usr/bin/env node
// Runs every benchmark in bench/ one after another, each as its own process so
// one run's servers are stopped before the next starts, then lists how each
// ended. Arguments after `--` go to every script (e.g. `-- --no-record`).
// usage: node bench/all.js [flags] [-- ARGS] (--help lists the flags)
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { CHECK_ONLY_ENV, readFlags } = require('./lib/options');

// memory-soak.js runs only when it exists in this checkout.
const BENCHMARKS = ['webhook-intake', 'end-to-end', 'invoice-numbers', 'payments-latency', 'memory-soak'];

function checkBenchmarkNames(text) {
  const names = text.split(',').map((name) => name.trim());
  if (names.some((name) => !BENCHMARKS.includes(name))) {
    return `must be a comma-separated list of ${BENCHMARKS.join(', ')}`;
  }

  return null;
}

const separator = process.argv.indexOf('--');
const ownArgs = separator === -1 ? process.argv.slice(2) : process.argv.slice(2, separator);
const passedArgs = separator === -1 ? [] : process.argv.slice(separator + 1);
const values = readFlags(
  {
    script: 'bench/all.js',
    summary: 'Runs every benchmark in bench/ one after another, each in its own process, then lists how each ended.',
    flags: {
      only: {
        type: 'string',
        valueName: 'NAMES',
        example: 'end-to-end,payments-latency',
        description: `comma-separated benchmarks to run instead of all: ${BENCHMARKS.join(', ')}`,
        check: checkBenchmarkNames,
      },
    },
    notes: [
      'Arguments after "--" go to every benchmark that runs, e.g.',
      '  node bench/all.js -- --no-record',
      'Each of them checks those arguments before the first benchmark starts, so',
      'pass a flag that only some benchmarks take together with --only.',
    ],
  },
  ownArgs,
);
const only = values.only === undefined ? null : values.only.split(',').map((name) => name.trim());
const selected = BENCHMARKS.map((name) => ({ name, script: path.join(__dirname, `${name}.js`) })).filter(
  ({ name, script }) => (only === null || only.includes(name)) && fs.existsSync(script),
);

/**
 * Runs each selected script with BENCH_CHECK_FLAGS=1, so that arguments one of
 * them rejects stop the run here instead of after the benchmarks before it.
 */
function checkPassedArgs() {
  for (const { name, script } of selected) {
    const result = spawnSync(process.execPath, [script, ...passedArgs], { stdio: 'inherit', env: { ...process.env, [CHECK_ONLY_ENV]: '1' } });
    if (result.status === 2) {
      console.error(`bench/all.js: ${name} rejected the arguments after "--", so no benchmark ran; see bench/all.js --help`);
      process.exit(2);
    }
    if (result.status !== 0) {
      console.error(`bench/all.js: checking the arguments after "--" with ${name} failed (${result.status ?? result.signal}), so no benchmark ran`);
      process.exit(1);
    }
  }
}

// With --help the scripts only print their help, so checking first would print it twice.
const helpRequested = passedArgs.some((arg) => arg === '--help' || arg === '-h');
if (passedArgs.length > 0 && !helpRequested) {
  checkPassedArgs();
}

const outcomes = [];
for (const { name, script } of selected) {
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
