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

  it('names a source removed after the build', () => {
    fs.writeFileSync(path.join(root, 'src', 'modules', 'b.ts'), 'export {};\n');
    markBuildComplete(root);
    fs.rmSync(path.join(root, 'src', 'modules', 'b.ts'));

    expect(staleBuildReason(root)).toBe(`${path.join('src', 'modules', 'b.ts')} was removed after the last build`);
  });

  it('names a source added with an older time', () => {
    markBuildComplete(root);
    const earlier = new Date(Date.now() - 60_000);
    fs.writeFileSync(path.join(root, 'src', 'modules', 'c.ts'), 'export {};\n');
    fs.utimesSync(path.join(root, 'src', 'modules', 'c.ts'), earlier, earlier);

    expect(staleBuildReason(root)).toBe(`${path.join('src', 'modules', 'c.ts')} changed after the last build`);
  });

  it('reports a stamp of an older format', () => {
    fs.writeFileSync(path.join(root, 'dist', '.build-complete'), '2026-12-05T00:00:00.000Z\n');

    expect(staleBuildReason(root)).toBe('dist/ contains no finished build');
  });

  it('names a source changed after the build', () => {
    markBuildComplete(root);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(root, 'src', 'modules', 'a.ts'), later, later);

    expect(staleBuildReason(root)).toBe(`${path.join('src', 'modules', 'a.ts')} changed after the last build`);
  });
});
