#!/usr/bin/env node
// Tells whether dist/ contains a finished build of the current sources. `npm run
// build` runs this file after the compiler, which empties dist/ first, so a
// build cut short by Ctrl+C or a compile error leaves no stamp behind.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const STAMP = path.join('dist', '.build-complete');

/** Files and folders a build is made from, relative to the project root. */
const SOURCES = ['src', 'libs', 'migrations', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'];

/** Writes the stamp of a finished build. */
function markBuildComplete(root) {
  fs.writeFileSync(path.join(root, STAMP), `${new Date().toISOString()}\n`);
}

/** Returns why the build in dist/ cannot be run as it is, or null when it is finished and newer than every source file. */
function staleBuildReason(root) {
  let builtAtMs;
  try {
    builtAtMs = fs.statSync(path.join(root, STAMP)).mtimeMs;
  } catch {
    return 'dist/ contains no finished build';
  }

  const changed = SOURCES.map((source) => newestChange(path.join(root, source))).find((change) => change !== null && change.mtimeMs > builtAtMs);

  return changed ? `${path.relative(root, changed.file)} changed after the last build` : null;
}

/** Returns the most recently modified file at or below `target`, or null when there is none. */
function newestChange(target) {
  let newest = null;
  const pending = [target];
  while (pending.length > 0) {
    const current = pending.pop();
    let stats;
    try {
      stats = fs.statSync(current);
    } catch {
      continue;
    }
    if (stats.isDirectory()) {
      pending.push(...fs.readdirSync(current).map((name) => path.join(current, name)));
    } else if (newest === null || stats.mtimeMs > newest.mtimeMs) {
      newest = { file: current, mtimeMs: stats.mtimeMs };
    }
  }

  return newest;
}

module.exports = { markBuildComplete, staleBuildReason };

if (require.main === module) {
  markBuildComplete(path.join(__dirname, '..'));
}
