'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { markBuildComplete, staleBuildReason } = require('./build-stamp');

describe('build stamp', () => {
  let root;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'build-stamp-'));
    fs.mkdirSync(path.join(root, 'src', 'modules'), { recursive: true });
    fs.writeFileSync(path.join(root, 'src', 'modules', 'a.ts'), 'export {};\n');
    fs.mkdirSync(path.join(root, 'dist', 'src'), { recursive: true });
    fs.writeFileSync(path.join(root, 'dist', 'src', 'main.js'), '');
  });

  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('reports a build without its stamp', () => {
    expect(staleBuildReason(root)).toBe('dist/ contains no finished build');
  });

  it('accepts a stamped build newer than its sources', () => {
    markBuildComplete(root);

    expect(staleBuildReason(root)).toBeNull();
  });

  it('names a source changed after the build', () => {
    markBuildComplete(root);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(root, 'src', 'modules', 'a.ts'), later, later);

    expect(staleBuildReason(root)).toBe(`${path.join('src', 'modules', 'a.ts')} changed after the last build`);
  });
});
