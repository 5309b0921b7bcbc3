#!/usr/bin/env node
// Payments: the latency `POST /api/v1/payments` adds on top of the Stripe call
// it makes. It sends one request at a time, alternating A B A B. A calls the
// emulator directly with stripe-node, configured and called as the service
// does: create and confirm a PaymentIntent, expand latest_charge, with an
// idempotency key. B creates a payment through the service, which makes that
// same call. The
// emulator answers at once, so the difference of the medians is the service's
// own work: HTTP, authentication, validation, the idempotency record, the
// payment row, the status update and the outbox event. A third side, C, sends
// the same payments to bench/lib/payments-floor-server.js, which makes the same
// statements and Stripe call without a framework, to show how much of the
// difference is the work itself. The direct and floor calls use an emulator
// account of their own, so only the service's payments bring it webhooks.
// usage: node bench/payments-latency.js [flags] (--help lists the flags and their defaults)
'use strict';

const crypto = require('node:crypto');
const Stripe = require('stripe');
const h = require('./lib/harness');
const { NO_RECORD_FLAG, databaseFlag, readFlags } = require('./lib/options');
const { cpuSeconds, mean, percentile, seedTenants, startStack, stopStack, waitForPort } = require('./lib/stack');

const values = readFlags({
  script: 'bench/payments-latency.js',
  summary:
    'Measures the latency POST /api/v1/payments adds to the Stripe call it makes: one request at a time, ' +
    'alternating A B A B between stripe-node calling the emulator directly and the service, with a frameworkless floor server as reference.',
  flags: {
    payments: { type: 'integer', default: 500, description: 'sequential payments on each side in each round' },
    rounds: { type: 'integer', default: 2, description: 'measured rounds, each the direct calls followed by the service' },
    'warm-up': { type: 'integer', default: 500, description: 'unmeasured payments on each side before the first round' },
    database: databaseFlag('billing_bench_suite_payments'),
    'no-record': NO_RECORD_FLAG,
  },
});
const PAYMENTS = values.payments;
const ROUNDS = values.rounds;
const WARM_UP = values['warm-up'];
const TARGET_ADDED_MEDIAN_MS = 5;

function summarize(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (value) => Number(value.toFixed(2));

  return { count: sorted.length, p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), p99: round(percentile(sorted, 99)) };
}

/** Build the stripe-node client the service builds for a tenant (stripe-client.factory.ts), pointed at the emulator. */
function directClient(secretKey, emulatorUrl) {
  const base = new URL(emulatorUrl);

  return new Stripe(secretKey, {
    apiVersion: Stripe.API_VERSION,
    timeout: 20_000,
    maxNetworkRetries: 2,
    telemetry: false,
    appInfo: { name: 'billing-service' },
    host: base.hostname,
    port: base.port,
    protocol: 'http',
  });
}

async function timeDirect(stripe, count) {
  const latencies = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    const intent = await stripe.paymentIntents.create(
      {
        amount: 8900,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        allowed_payment_method_types: ['card'],
        confirm: true,
        description: 'Benchmark payment',
        receipt_email: 'buyer@example.com',
        metadata: { billingPaymentId: crypto.randomUUID(), billingTenantId: crypto.randomUUID() },
        expand: ['latest_charge'],
      },
      { idempotencyKey: `payment-${crypto.randomUUID()}-create` },
    );
    latencies.push(performance.now() - started);
    if (intent.status !== 'succeeded') {
      throw new Error(`direct PaymentIntent ${intent.id} ended ${intent.status}, expected succeeded`);
    }
  }

  return latencies;
}

/** Time `count` payments sent one at a time to `baseUrl` (the service, or the floor server that mimics its path). */
async function timeService(baseUrl, tenant, count) {
  const latencies = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    const response = await fetch(`${baseUrl}/api/v1/payments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tenant.ownerToken}`, 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
      body: JSON.stringify({ amount: 8900, currency: 'usd', paymentMethod: 'pm_card_visa', description: 'Benchmark payment', receiptEmail: 'buyer@example.com' }),
    });
    const body = await response.json();
    latencies.push(performance.now() - started);
    if (response.status !== 201 || body.status !== 'succeeded') {
      throw new Error(`POST ${baseUrl}/api/v1/payments returned ${response.status} with status ${body.status}: ${JSON.stringify(body)}`);
    }
  }

  return latencies;
}

/**
 * Wait until the emulator's webhook deliveries of the payments so far have reached the service: the
 * count of stored events stays the same for a second. Each payment brings about four events, and a
 * round that starts before they are in measures the tail of the previous one.
 */
async function webhooksSettled(stack) {
  let last = -1;
  let unchangedSince = Date.now();
  for (;;) {
    const [row] = await h.query(stack.databaseUrl, 'SELECT count(*)::int AS count FROM webhook_events');
    if (row.count !== last) {
      last = row.count;
      unchangedSince = Date.now();
    } else if (Date.now() - unchangedSince >= 1_000) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Start bench/lib/payments-floor-server.js on the service's database. It pays with the key of the
 * direct calls' account, so its payments send the service no webhooks.
 */
async function startFloor(stack, secretKey) {
  const port = await h.freePort();
  h.start('payments-floor', 'bench/lib/payments-floor-server.js', { DATABASE_URL: stack.databaseUrl, STRIPE_API_BASE: stack.emulatorUrl, STRIPE_SECRET_KEY: secretKey, PORT: String(port) });
  await waitForPort(port);

  return `http://127.0.0.1:${port}`;
}

/** Transactions committed in the service's database so far, to show how many one payment takes. */
async function commitCount(stack) {
  const [row] = await h.query(stack.databaseUrl, 'SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()');

  return Number(row.xact_commit);
}

async function main() {
  // The api role alone: the worker's reaction to each payment (invoice, webhooks) is not part of the request.
  const stack = await startStack({ database: values.database, roles: ['api'], name: 'bench-payments' });
  const [tenant] = await seedTenants(stack, { count: 1, prefix: 'bench-payments', ownSecret: false });
  // The direct calls use an account of their own with no webhook endpoint. On the tenant's account
  // each of them made the emulator send the service about four events, and that backlog slowed the
  // service's next round. The service's own payments still bring their events, as in production.
  const directAccount = await h.http('POST', `${stack.emulatorUrl}/_emulator/accounts`);
  const stripe = directClient(directAccount.test.secretKey, stack.emulatorUrl);
  const floorUrl = await startFloor(stack, directAccount.test.secretKey);

  // Warm every path so the first measured round is not the JIT's, as in a service that has been running.
  await timeDirect(stripe, WARM_UP);
  await timeService(stack.serviceUrl, tenant, WARM_UP);
  await timeService(floorUrl, tenant, WARM_UP);
  await webhooksSettled(stack);

  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const direct = summarize(await timeDirect(stripe, PAYMENTS));
    const before = await commitCount(stack);
    const cpuBefore = cpuSeconds(stack.processes.api.pid);
    const service = summarize(await timeService(stack.serviceUrl, tenant, PAYMENTS));
    service.commitsPerPayment = Number(((await commitCount(stack)) - before) / PAYMENTS).toFixed(1);
    // Includes the emulator's webhook deliveries that arrive during the round. It is null where /proc is missing.
    service.apiCpuMsPerPayment = cpuBefore === null ? null : Number((((cpuSeconds(stack.processes.api.pid) - cpuBefore) * 1000) / PAYMENTS).toFixed(2));
    await webhooksSettled(stack);
    const floor = summarize(await timeService(floorUrl, tenant, PAYMENTS));
    const minus = (side) => ({ p50: Number((side.p50 - direct.p50).toFixed(2)), p90: Number((side.p90 - direct.p90).toFixed(2)), p99: Number((side.p99 - direct.p99).toFixed(2)) });
    const added = minus(service);
    const floorAdded = minus(floor);
    rounds.push({ round, emulatorDirect: direct, service, added, floor, floorAdded });
    console.log(
      `round ${round}: emulator direct p50 ${direct.p50} ms, service p50 ${service.p50} ms, added p50 ${added.p50} ms (p90 ${added.p90}, p99 ${added.p99}), ` +
        `${service.commitsPerPayment} commits and ${service.apiCpuMsPerPayment} ms of api CPU per payment; floor server added p50 ${floorAdded.p50} ms`,
    );
  }

  const meanOf = (select) => mean(rounds.map(select)).toFixed(2);
  const addedMedian = mean(rounds.map((r) => r.added.p50));
  const table = h.markdownTable(
    ['measure (ms, mean of rounds)', 'p50', 'p90', 'p99', 'target', 'met'],
    [
      ['emulator call, direct (stripe-node)', meanOf((r) => r.emulatorDirect.p50), meanOf((r) => r.emulatorDirect.p90), meanOf((r) => r.emulatorDirect.p99), '', ''],
      ['POST /api/v1/payments', meanOf((r) => r.service.p50), meanOf((r) => r.service.p90), meanOf((r) => r.service.p99), '', ''],
      ['added by the service', addedMedian.toFixed(2), meanOf((r) => r.added.p90), meanOf((r) => r.added.p99), `p50 ≤ ${TARGET_ADDED_MEDIAN_MS}`, addedMedian <= TARGET_ADDED_MEDIAN_MS ? 'yes' : 'no'],
      ['reference: added by the floor server (same statements and Stripe call, no framework)', meanOf((r) => r.floorAdded.p50), meanOf((r) => r.floorAdded.p90), meanOf((r) => r.floorAdded.p99), '', ''],
    ],
  );
  console.log(`\nPayments latency, ${PAYMENTS} sequential calls per side, ${ROUNDS} rounds A B\n\n${table}\n`);
  if (!values['no-record']) {
    h.record(`Payments latency (${PAYMENTS} sequential payments per side, ${ROUNDS} rounds)`, table, rounds);
  }
  await stopStack(stack);
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
