import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabase } from '../support/databases';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';
import { eventually, freePort } from '../support/test-app';

jest.setTimeout(180_000);

const ROOT = join(__dirname, '..', '..');

/** The README's demo, run from dist/ on its own database, ports, queue prefix and state folder. */
describe('npm run demo', () => {
  let demo: ChildProcess;
  let output = '';
  let stateDir: string;
  let databaseUrl: string;

  beforeAll(async () => {
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `${url.pathname.slice(1)}_demo`;
    databaseUrl = url.toString();
    await dropDatabase(databaseUrl);
    stateDir = mkdtempSync(join(tmpdir(), 'billing-demo-'));

    demo = spawn(process.execPath, [join(ROOT, 'scripts', 'demo.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'development',
        DATABASE_URL: databaseUrl,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: TEST_QUEUE_PREFIX,
        PORT: String(await freePort()),
        STRIPE_EMULATOR_PORT: String(await freePort()),
        DEMO_STATE_DIR: stateDir,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    demo.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  });

  afterAll(async () => {
    if (demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGKILL');
    }
    rmSync(stateDir, { recursive: true, force: true });
    await dropDatabase(databaseUrl);
  });

  it('takes a payment to its invoice, then stops cleanly on Ctrl+C', async () => {
    await eventually(async () => (output.includes('The demo is running') ? true : undefined), 150_000, 250).catch((error: Error) => {
      throw new Error(`${error.message}\n${output}`);
    });
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));

    demo.kill('SIGINT');
    const code = await exited;
    const serviceLog = readFileSync(join(stateDir, 'service.log'), 'utf8');

    expect(output).toMatch(/payment \S+ is succeeded/);
    expect(output).toMatch(/invoice INV-\d{4}-\d{5} is paid/);
    expect(code).toBe(0);
    expect(serviceLog).toContain('"msg":"Shutdown started"');
    expect(serviceLog).toContain('"msg":"Shutdown finished"');
  });
});
