#!/usr/bin/env node
// Runs the service end to end on this machine: builds if needed, migrates,
// starts the Stripe emulator and the service wired to it, seeds a demo tenant,
// takes one card payment through to its invoice, then keeps serving.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { staleBuildReason } = require('./build-stamp');

const root = path.join(__dirname, '..');
const stateDir = process.env.DEMO_STATE_DIR ? path.resolve(process.env.DEMO_STATE_DIR) : path.join(root, '.demo');
const port = Number(process.env.PORT || 3000);
const emulatorPort = Number(process.env.STRIPE_EMULATOR_PORT || 12111);
const logsDir = path.relative(process.cwd(), stateDir) || '.';
const baseUrl = `http://127.0.0.1:${port}`;
const emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
const tenantSlug = 'demo-school';
const adminEmail = 'admin@demo-school.test';
const adminPassword = 'demo-password-2026';

/** The started processes, each with a promise that settles once it exited and its log file is written out. */
const children = [];
const STOP_TIMEOUT_MS = 15_000;
let shuttingDown = false;

class DemoFailure extends Error {}

function step(message) {
  console.log(`\n▶ ${message}`);
}

function fail(message) {
  throw new DemoFailure(message);
}

/**
 * Stop the service and the emulator with SIGTERM and wait until they exit, so
 * their shutdown lines reach the log files. A process still running after
 * STOP_TIMEOUT_MS is killed.
 */
async function stopChildren() {
  const running = children.filter(({ child }) => child.exitCode === null && child.signalCode === null);
  const timer = setTimeout(() => running.forEach(({ child }) => child.kill('SIGKILL')), STOP_TIMEOUT_MS);
  for (const { child } of running) {
    child.kill('SIGTERM');
  }
  await Promise.all(children.map(({ closed }) => closed));
  clearTimeout(timer);
}

/** Stop the processes and exit with `code`; the first call wins, so a failure during Ctrl+C does not change the code. */
async function stopAndExit(code, message) {
  if (shuttingDown) {
    return;
  }
  shuttingDown = true;
  if (message) {
    console.error(`\n✖ ${message}`);
  }
  await stopChildren();
  process.exit(code);
}

/** Return the demo's encryption key, kept in .demo/ between runs so stored keys stay readable. */
function demoEncryptionKey() {
  if (process.env.APP_ENCRYPTION_KEY) {
    return process.env.APP_ENCRYPTION_KEY;
  }
  const file = path.join(stateDir, 'encryption-key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(stateDir, { recursive: true });
    fs.writeFileSync(file, `demo:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  }

  return fs.readFileSync(file, 'utf8').trim();
}

const env = {
  ...process.env,
  PORT: String(port),
  HOST: process.env.HOST || '127.0.0.1',
  STRIPE_EMULATOR_PORT: String(emulatorPort),
  STRIPE_API_BASE: emulatorUrl,
  PUBLIC_BASE_URL: process.env.PUBLIC_BASE_URL || `http://localhost:${port}`,
  APP_ENCRYPTION_KEY: demoEncryptionKey(),
};

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, env, encoding: 'utf8' });
  if (result.signal !== null) {
    // Ctrl+C reaches the child too; its output would read like a compile or migration error.
    fail(`${command} ${args.join(' ')} was stopped by ${result.signal}; the next npm run demo runs it again.`);
  }
  if (result.status !== 0) {
    fail(`${command} ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  }

  return result.stdout;
}

/** Run an ops command. An "already exists" error is expected on a second demo run and returns null. */
function ops(args, { allowExisting = false } = {}) {
  const result = spawnSync(process.execPath, ['dist/src/ops/cli.js', ...args], { cwd: root, env, encoding: 'utf8' });
  if (result.status !== 0) {
    if (allowExisting && /already exists/i.test(result.stdout + result.stderr)) {
      return null;
    }
    fail(`ops ${args[0]} failed:\n${result.stdout}${result.stderr}`);
  }

  return result.stdout;
}

function lastLine(text) {
  return text.trim().split('\n').pop().trim();
}

function startChild(name, script) {
  const child = spawn(process.execPath, [script], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logFile = fs.createWriteStream(path.join(stateDir, `${name}.log`), { flags: 'a' });
  // Both streams write to one file, which is ended once the process closed both.
  child.stdout.pipe(logFile, { end: false });
  child.stderr.pipe(logFile, { end: false });
  const closed = new Promise((resolve) => {
    child.once('close', () => logFile.end(resolve));
  });
  child.once('exit', (code, signal) => {
    if (!shuttingDown) {
      void stopAndExit(1, `${name} exited (${signal ?? code}); see ${logsDir}/${name}.log`);
    }
  });
  children.push({ child, closed });

  return child;
}

/** Fail unless nothing listens on 127.0.0.1:`portNumber`, naming the variable that moves it. */
async function requireFreePort(portNumber, variable) {
  const free = await new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(portNumber, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
  if (!free) {
    fail(`Port ${portNumber} is already in use. Stop what listens there, or set ${variable} to a free port.`);
  }
}

async function waitFor(url, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) {
        return;
      }
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  fail(`${what} did not become ready at ${url} within ${timeoutMs / 1000} s`);
}

async function api(method, url, token, body) {
  const response = await fetch(`${baseUrl}${url}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();

  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function main() {
  fs.mkdirSync(stateDir, { recursive: true });

  const staleBuild = process.env.DEMO_REBUILD === '1' ? 'DEMO_REBUILD=1' : staleBuildReason(root);
  if (staleBuild !== null) {
    step(`Building (${staleBuild})`);
    run('npm', ['run', 'build']);
  }

  // A server already on a port would pass the readiness checks and receive the demo's data.
  await requireFreePort(emulatorPort, 'STRIPE_EMULATOR_PORT');
  await requireFreePort(port, 'PORT');

  step('Migrating the database (created when missing)');
  process.stdout.write(run('npm', ['run', '--silent', 'migration:run']));

  step(`Starting the Stripe emulator on ${emulatorUrl}`);
  startChild('emulator', 'dist/libs/stripe-emulator/src/main.js');
  await waitFor(`${emulatorUrl}/_emulator/health`, 'The Stripe emulator');

  step(`Starting the billing service on ${baseUrl}`);
  startChild('service', 'dist/src/main.js');
  await waitFor(`${baseUrl}/health/ready`, 'The billing service', 60_000);

  step(`Seeding tenant "${tenantSlug}"`);
  ops(['tenants:create', '--slug', tenantSlug, '--name', 'Demo Training School'], { allowExisting: true });
  ops(['users:create', '--tenant', tenantSlug, '--email', adminEmail, '--password', adminPassword, '--role', 'owner'], { allowExisting: true });
  const operatorToken = lastLine(ops(['tokens:create', '--role', 'operator', '--label', 'demo operator']));
  const ownerToken = lastLine(ops(['tokens:create', '--tenant', tenantSlug, '--role', 'owner', '--label', 'demo owner']));

  // The emulator keeps its accounts in memory only, so a connection left by an
  // earlier demo run points at an account it no longer has, so the demo connects afresh.
  step('Connecting Stripe test keys');
  await api('DELETE', '/api/v1/settings/billing/stripe', ownerToken);
  const account = await (await fetch(`${emulatorUrl}/_emulator/accounts`, { method: 'POST' })).json();
  const billing = await api('POST', '/api/v1/settings/billing/stripe', ownerToken, {
    publishableKey: account.test.publishableKey,
    secretKey: account.test.secretKey,
  });
  if (billing.status !== 201) {
    fail(`Connecting Stripe failed: ${JSON.stringify(billing.body)}`);
  }
  const stripe = billing.body.stripe;
  console.log(`  ${stripe.status} in ${stripe.mode} mode to ${stripe.accountId}, keys ${stripe.publishableKey} / ${stripe.secretKey}`);
  console.log(`  webhook endpoint ${billing.body.webhook.url} (${billing.body.webhook.registration})`);

  step('Taking a card payment with pm_card_visa (4242 4242 4242 4242)');
  const payment = await api('POST', '/api/v1/payments', ownerToken, {
    amount: 8900,
    currency: 'usd',
    paymentMethod: 'pm_card_visa',
    description: 'CPR/AED class, 2 seats',
    receiptEmail: 'buyer@example.com',
  });
  if (payment.status !== 201) {
    fail(`The payment failed: ${JSON.stringify(payment.body)}`);
  }
  console.log(`  payment ${payment.body.id}: ${payment.body.status}, ${payment.body.amount} ${payment.body.currency}`);

  step('Waiting for the webhook and the invoice');
  let settled = payment.body;
  const deadline = Date.now() + 30_000;
  while (!settled.invoiceId && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    settled = (await api('GET', `/api/v1/payments/${payment.body.id}`, ownerToken)).body;
  }
  if (!settled.invoiceId) {
    fail(`No invoice appeared for the payment within 30 s; see ${logsDir}/service.log`);
  }
  const invoice = (await api('GET', `/api/v1/invoices/${settled.invoiceId}`, ownerToken)).body;
  console.log(`  payment ${settled.id} is ${settled.status}; receipt ${settled.receiptUrl}`);
  console.log(`  invoice ${invoice.number} is ${invoice.status}, total ${invoice.total} ${invoice.currency}`);

  console.log(`
The demo is running. Press Ctrl+C to stop.

  Service           ${baseUrl}   (API docs: ${baseUrl}/api/docs)
  Billing page      ${baseUrl}/admin/settings/billing
  Log in            tenant ${tenantSlug}, email ${adminEmail}, password ${adminPassword}
  Owner token       ${ownerToken}
  Operator token    ${operatorToken}
  Stripe emulator   ${emulatorUrl}
  Logs              ${logsDir}/service.log, ${logsDir}/emulator.log

Try:  curl -H "Authorization: Bearer ${ownerToken}" ${baseUrl}/api/v1/payments
`);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (!shuttingDown) {
      console.log('\nStopping the billing service and the Stripe emulator…');
    }
    void stopAndExit(0);
  });
}

main().catch((error) => stopAndExit(1, error instanceof DemoFailure ? error.message : (error?.stack ?? String(error))));
