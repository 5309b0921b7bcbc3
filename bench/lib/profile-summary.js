#!/usr/bin/env node
// Prints the functions with the most self time in a .cpuprofile, and the
// share of time per package or source folder, to read a benchmark's profile
// without a browser.
// usage: node bench/lib/profile-summary.js FILE.cpuprofile [--top 25]
'use strict';

const fs = require('node:fs');
const { parseArgs } = require('node:util');

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const profile = JSON.parse(fs.readFileSync(positionals[0], 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfSamples = new Map();
for (const id of profile.samples) {
  selfSamples.set(id, (selfSamples.get(id) ?? 0) + 1);
}
const total = profile.samples.length;

function place(url) {
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (module) {
    return module[1];
  }
  const own = /\/(dist\/[^/]+\/[^/]+(?:\/[^/]+)?)/.exec(url);
  if (own) {
    return own[1];
  }

  return url ? 'node internals' : '(native, idle, gc)';
}

const functions = new Map();
const places = new Map();
for (const [id, count] of selfSamples) {
  const { callFrame } = byId.get(id);
  const key = `${callFrame.functionName || '(anonymous)'} ${callFrame.url.replace(/^.*node_modules\//, '')}:${callFrame.lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + count);
  const where = callFrame.functionName === '(idle)' ? '(idle)' : place(callFrame.url);
  places.set(where, (places.get(where) ?? 0) + count);
}

const percent = (count) => `${((100 * count) / total).toFixed(1)} %`;
console.log(`${total} samples\n\nself time by package or folder:`);
for (const [where, count] of [...places].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
  console.log(`  ${percent(count).padStart(7)}  ${where}`);
}
console.log('\nself time by function:');
for (const [key, count] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
  console.log(`  ${percent(count).padStart(7)}  ${key}`);
}
