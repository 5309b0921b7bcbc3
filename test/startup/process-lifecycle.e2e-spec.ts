import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { TEST_DATABASE_URL, TEST_QUEUE_PREFIX, TEST_REDIS_URL } from '../support/test-env';
import { eventually, freePort } from '../support/test-app';

const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');
/** Far below the 27 s that @nestjs/typeorm's nine retries, 3 s apart, spent on an unreachable database. */
const PROMPT_EXIT_MS = 15_000;
const PASSWORD = 'startup-check-password';

interface LogLine {
  level: number;
  msg: string;
  context?: string;
  [field: string]: unknown;
}

interface ServiceProcess {
  url: string;
  stdout: string[];
  stderr: string[];
  kill: (signal: NodeJS.Signals) => void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the built service as production runs it, and collects what it prints. */
async function startService(env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: TEST_QUEUE_PREFIX,
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  return { url: `http://127.0.0.1:${port}`, stdout, stderr, kill: (signal) => child.kill(signal), exited };
}

/** Waits for the exit, killing the process when it takes longer than `timeoutMs`. */
async function exitOf(service: ServiceProcess, timeoutMs: number): Promise<{ code: number | null; timedOut: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([service.exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    service.kill('SIGKILL');
    await service.exited;

    return { code: null, timedOut: true };
  }

  return { code: outcome.code, timedOut: false };
}

/** Parses standard output as JSON lines; a line that is not JSON fails the parse, and so the test. */
function logLines(service: ServiceProcess): LogLine[] {
  return service.stdout
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

describe('start-up with an unreachable dependency', () => {
  it.each([['DATABASE_URL', 'PostgreSQL', { DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:1/billing` }]])('exits naming %s', async (variable, service, env) => {
    const started = await startService({ APP_ROLE: 'api', ...env });

    const exit = await exitOf(started, PROMPT_EXIT_MS);
    const lines = logLines(started);
    const output = started.stdout.join('') + started.stderr.join('');

    expect(exit.timedOut).toBe(false);
    expect(exit.code).toBe(1);
    expect(started.stderr.join('')).toBe('');
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe(60);
    expect(lines[0].variable).toBe(variable);
    expect(lines[0].target).toBe('127.0.0.1:1');
    expect(lines[0].code).toBe('ECONNREFUSED');
    expect(lines[0].msg).toContain(`Cannot connect to ${service} at 127.0.0.1:1 (${variable})`);
    expect(output).not.toContain(PASSWORD);
  });
});

describe('migrations with an unreachable database', () => {
  it('exit with one line naming DATABASE_URL', async () => {
    const migrate = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'src', 'database', 'migrate.js')], {
      env: { ...process.env, DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:1/billing` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderr: string[] = [];
    migrate.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const code = await new Promise<number | null>((resolve) => migrate.once('exit', resolve));
    const lines = stderr.join('').trim().split('\n');

    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('Cannot connect to PostgreSQL at 127.0.0.1:1 (DATABASE_URL)');
    expect(lines[0]).not.toContain(PASSWORD);
  });
});

describe('start-up on a port in use', () => {
  it.each(['api', 'worker'])('exits with one log line in the %s role', async (role) => {
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));

    try {
      const started = await startService({ APP_ROLE: role, PORT: String(port) });
      const exit = await exitOf(started, 60_000);
      const fatal = logLines(started).filter((line) => line.level === 60);

      expect(exit.timedOut).toBe(false);
      expect(exit.code).toBe(1);
      expect(started.stderr.join('')).toBe('');
      expect(fatal).toHaveLength(1);
      expect(fatal[0].variable).toBe('PORT');
      expect(fatal[0].code).toBe('EADDRINUSE');
      expect(fatal[0].msg).toBe(
        `Port ${port} on 127.0.0.1 is already in use (PORT): stop the process listening there or set PORT to a free port`,
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

describe('start-up on an address of another machine', () => {
  it('exits with one log line naming HOST', async () => {
    // 192.0.2.1 is reserved for documentation (RFC 5737), so no machine here has it.
    const started = await startService({ APP_ROLE: 'api', HOST: '192.0.2.1' });
    const exit = await exitOf(started, 60_000);
    const fatal = logLines(started).filter((line) => line.level === 60);

    expect(exit.code).toBe(1);
    expect(started.stderr.join('')).toBe('');
    expect(fatal).toHaveLength(1);
    expect(fatal[0].variable).toBe('HOST');
    expect(fatal[0].code).toBe('EADDRNOTAVAIL');
    expect(fatal[0].msg).toContain('Address 192.0.2.1 is not an address of this machine (HOST)');
  });
});

describe('start-up without Redis', () => {
  it.each(['api', 'worker'])('starts in the %s role and logs JSON only', async (role) => {
    const service = await startService({ APP_ROLE: role, REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:1` });
    const health = await eventually(async () => {
      const response = await fetch(`${service.url}/health/ready`).catch(() => null);

      return response ? { status: response.status, body: (await response.json()) as { details: { redis: { status: string } } } } : undefined;
    }, 60_000);
    // Long enough for the Redis clients' reconnect attempts to emit errors.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    service.kill('SIGTERM');
    await exitOf(service, 60_000);

    const lines = logLines(service);
    const startupWarning = lines.find((line) => line.context === 'Bootstrap' && line.variable === 'REDIS_URL');
    expect(service.stderr.join('')).toBe('');
    expect(startupWarning?.level).toBe(40);
    expect(startupWarning?.msg).toContain('Cannot connect to Redis at 127.0.0.1:1 (REDIS_URL)');
    // The api role takes webhooks without Redis, so only the worker reports not ready.
    expect(health.status).toBe(role === 'api' ? 200 : 503);
    expect(JSON.stringify(health.body)).not.toContain(PASSWORD);
    expect(service.stdout.join('')).not.toContain(PASSWORD);
  });
});

describe('graceful shutdown', () => {
  it.each(['api', 'worker'])('logs its start and finish in the %s role', async (role) => {
    const service = await startService({ APP_ROLE: role });
    await eventually(async () => {
      const response = await fetch(`${service.url}/health/ready`).catch(() => null);

      return response?.status === 200 ? true : undefined;
    }, 60_000);

    service.kill('SIGTERM');
    const exit = await exitOf(service, 60_000);
    const lines = logLines(service);
    const messages = lines.map((line) => line.msg);
    const started = messages.indexOf('Shutdown started');
    const finished = messages.indexOf('Shutdown finished');

    expect(exit.code).toBe(0);
    expect(started).toBeGreaterThan(-1);
    expect(finished).toBe(lines.length - 1);
    expect(lines[started].signal).toBe('SIGTERM');
    expect(lines[finished].signal).toBe('SIGTERM');
    expect(lines[finished].durationMs).toEqual(expect.any(Number));
    if (role === 'worker') {
      // The workers stop between the two lines.
      expect(messages.slice(started + 1, finished)).toContain('Worker stopped');
    }
  });
});
