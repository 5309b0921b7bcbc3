#!/usr/bin/env node
// Payments: the latency `POST /api/v1/payments` adds on top of the Stripe call
// it makes. It sends one request at a time, alternating A B A B. A calls the
// emulator directly with stripe-node, configured and called as the service
// does: create and confirm a PaymentIntent, expand latest_charge, with an
// idempotency key. B creates a payment through the service, which makes that
// same call. The
// emulator answers at once, so the difference of the medians is the service's
// own work: HTTP, authentication, validation, the idempotency record, the
// payment row, the status update and the outbox event.
// usage: node bench/payments-latency.js [flags] (--help lists the flags and their defaults)
'use strict';

const crypto = require('node:crypto');
const Stripe = require('stripe');
const h = require('./lib/harness');
const { NO_RECORD_FLAG, databaseFlag, readFlags } = require('./lib/options');
const { cpuSeconds, mean, percentile, seedTenants, startStack, stopStack } = require('./lib/stack');

const values = readFlags({
  script: 'bench/payments-latency.js',
  summary:
    'Measures the latency POST /api/v1/payments adds to the Stripe call it makes: one request at a time, ' +
    'alternating A B A B between stripe-node calling the emulator directly and the service.',
  flags: {
    payments: { type: 'integer', default: 500, description: 'sequential payments on each side in each round' },
    rounds: { type: 'integer', default: 2, description: 'measured rounds, each the direct calls followed by the service' },
    database: databaseFlag('billing_bench_suite_payments'),
    'no-record': NO_RECORD_FLAG,
  },
});
const PAYMENTS = values.payments;
const ROUNDS = values.rounds;
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

async function timeService(stack, tenant, count) {
  const latencies = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    const response = await fetch(`${stack.serviceUrl}/api/v1/payments`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tenant.ownerToken}`, 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
      body: JSON.stringify({ amount: 8900, currency: 'usd', paymentMethod: 'pm_card_visa', description: 'Benchmark payment', receiptEmail: 'buyer@example.com' }),
    });
    const body = await response.json();
    latencies.push(performance.now() - started);
    if (response.status !== 201 || body.status !== 'succeeded') {
      throw new Error(`POST /api/v1/payments returned ${response.status} with status ${body.status}: ${JSON.stringify(body)}`);
    }
  }

  return latencies;
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
  const stripe = directClient(tenant.stripeTestSecretKey, stack.emulatorUrl);

  // Warm both paths so the first measured round is not the JIT's.
  await timeDirect(stripe, 50);
  await timeService(stack, tenant, 50);

  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const direct = summarize(await timeDirect(stripe, PAYMENTS));
    const before = await commitCount(stack);
    const cpuBefore = cpuSeconds(stack.processes.api.pid);
    const service = summarize(await timeService(stack, tenant, PAYMENTS));
    service.commitsPerPayment = Number(((await commitCount(stack)) - before) / PAYMENTS).toFixed(1);
    // Includes the emulator's webhook deliveries that arrive during the round. It is null where /proc is missing.
    service.apiCpuMsPerPayment = cpuBefore === null ? null : Number((((cpuSeconds(stack.processes.api.pid) - cpuBefore) * 1000) / PAYMENTS).toFixed(2));
    const added = { p50: Number((service.p50 - direct.p50).toFixed(2)), p90: Number((service.p90 - direct.p90).toFixed(2)), p99: Number((service.p99 - direct.p99).toFixed(2)) };
    rounds.push({ round, emulatorDirect: direct, service, added });
    console.log(`round ${round}: emulator direct p50 ${direct.p50} ms, service p50 ${service.p50} ms, added p50 ${added.p50} ms (p90 ${added.p90}, p99 ${added.p99}), ${service.commitsPerPayment} commits and ${service.apiCpuMsPerPayment} ms of api CPU per payment`);
  }

  const meanOf = (select) => mean(rounds.map(select)).toFixed(2);
  const addedMedian = mean(rounds.map((r) => r.added.p50));
  const table = h.markdownTable(
    ['measure (ms, mean of rounds)', 'p50', 'p90', 'p99', 'target', 'met'],
    [
      ['emulator call, direct (stripe-node)', meanOf((r) => r.emulatorDirect.p50), meanOf((r) => r.emulatorDirect.p90), meanOf((r) => r.emulatorDirect.p99), '', ''],
      ['POST /api/v1/payments', meanOf((r) => r.service.p50), meanOf((r) => r.service.p90), meanOf((r) => r.service.p99), '', ''],
      ['added by the service', addedMedian.toFixed(2), meanOf((r) => r.added.p90), meanOf((r) => r.added.p99), `p50 ≤ ${TARGET_ADDED_MEDIAN_MS}`, addedMedian <= TARGET_ADDED_MEDIAN_MS ? 'yes' : 'no'],
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
