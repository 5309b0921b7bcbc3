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

/**
 * Writes the stamp of a finished build with the source files it was made from,
 * so that a source deleted later also calls for a build. Until then its
 * compiled output stays in dist/, where a deleted migration would still run.
 */
function markBuildComplete(root) {
  const sources = sourceFiles(root).map((file) => file.relative);
  fs.writeFileSync(path.join(root, STAMP), `${JSON.stringify({ builtAt: new Date().toISOString(), sources })}\n`);
}

/** Returns why the build in dist/ cannot be run as it is, or null when it is finished and newer than every source file. */
function staleBuildReason(root) {
  let builtAtMs;
  let built;
  try {
    builtAtMs = fs.statSync(path.join(root, STAMP)).mtimeMs;
    built = JSON.parse(fs.readFileSync(path.join(root, STAMP), 'utf8')).sources;
  } catch {
    return 'dist/ contains no finished build';
  }
  if (!Array.isArray(built)) {
    return 'dist/ contains no finished build';
  }

  const current = sourceFiles(root);
  const currentNames = new Set(current.map((file) => file.relative));
  const removed = built.find((name) => !currentNames.has(name));
  if (removed !== undefined) {
    return `${removed} was removed after the last build`;
  }

  const builtNames = new Set(built);
  const changed = current.find((file) => !builtNames.has(file.relative) || file.mtimeMs > builtAtMs);

  return changed ? `${changed.relative} changed after the last build` : null;
}

/** Returns every file at or below the SOURCES, with its path relative to `root` and its modification time, sorted by path. */
function sourceFiles(root) {
  const files = [];
  const pending = SOURCES.map((source) => path.join(root, source));
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
    } else {
      files.push({ relative: path.relative(root, current), mtimeMs: stats.mtimeMs });
    }
  }

  return files.sort((a, b) => (a.relative < b.relative ? -1 : 1));
}

module.exports = { markBuildComplete, staleBuildReason };

if (require.main === module) {
  markBuildComplete(path.join(__dirname, '..'));
}
