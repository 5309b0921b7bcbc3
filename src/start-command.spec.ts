import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

function startScriptWords(): string[] {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

  return manifest.scripts.start.split(/\s+/);
}

/** Read the exec-form CMD of the Dockerfile's last stage. */
function dockerCommand(): string[] {
  const commands = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('CMD '));

  return JSON.parse(commands[commands.length - 1].slice('CMD '.length)) as string[];
}

describe('service start command', () => {
  it('sets a heap limit in npm start', () => {
    const heapLimit = startScriptWords().find((word) => word.startsWith('--max-old-space-size='));

    expect(heapLimit).toBeDefined();
    expect(Number(heapLimit?.split('=')[1])).toBeGreaterThanOrEqual(128);
  });

  it('runs the container like npm start', () => {
    expect(dockerCommand()).toEqual(startScriptWords());
  });
});
