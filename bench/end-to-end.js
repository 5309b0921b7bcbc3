#!/usr/bin/env node
// End to end: signed Stripe events of mixed types over several tenants, sent as
// fast as the api process accepts them, processed by a separate worker process.
// Throughput is events processed per second from the first receipt to the last
// processed event (both read from webhook_events), divided by the ceiling
// server's intake rate measured in the same run, alternating A B A B.
// Afterwards every event's effect is checked in the database: none lost, none
// applied twice.
// usage: node bench/end-to-end.js [flags] (--help lists the flags and their defaults)
'use strict';

const crypto = require('node:crypto');
const h = require('./lib/harness');
const { sendEvents } = require('./lib/load');
const { NO_RECORD_FLAG, databaseFlag, readFlags } = require('./lib/options');
const { cpuSeconds, mean, pollUntil, sampleDatabaseActivity, seedTenants, startCeiling, startStack, stopStack } = require('./lib/stack');

const values = readFlags({
  script: 'bench/end-to-end.js',
  summary:
    'Measures signed Stripe events processed per second, from receipt by the api process to processing by the ' +
    "worker process, as a ratio to the ceiling server's intake rate, alternating A B A B, and checks in the " +
    'database that no event was lost or applied twice.',
  flags: {
    events: { type: 'integer', default: 20000, description: 'events sent in each round, one per seeded payment' },
    tenants: { type: 'integer', default: 10, description: 'tenants the events are spread over' },
    rounds: { type: 'integer', default: 2, description: 'measured rounds, each a ceiling run followed by the events' },
    'ceiling-seconds': { type: 'integer', default: 10, description: 'seconds of load on the ceiling server in each round' },
    connections: { type: 'integer', default: 50, description: 'concurrent connections sending the events and loading the ceiling server' },
    database: databaseFlag('billing_bench_suite_e2e', { ceiling: true }),
    'no-record': NO_RECORD_FLAG,
  },
});
const EVENTS = values.events;
const TENANTS = values.tenants;
const ROUNDS = values.rounds;
const CEILING_SECONDS = values['ceiling-seconds'];
const CONNECTIONS = values.connections;
const TARGET_RATIO = 0.35;
const DATABASE = values.database;
const RECEIPT_URL = 'https://pay.stripe.com/receipts/bench';

// One event per payment, so each event's effect can be checked on its own row.
// Half the events pay a payment (which also issues a numbered invoice through
// the outbox), a quarter fail one, a quarter attach a charge and receipt.
const EVENT_MIX = ['payment_intent.succeeded', 'payment_intent.succeeded', 'payment_intent.payment_failed', 'charge.succeeded'];

function stripeObject(type, payment, created) {
  const metadata = { billingPaymentId: payment.id, billingTenantId: payment.tenantId };
  const base = { id: payment.intentId, object: 'payment_intent', amount: 8900, currency: 'usd', livemode: false, created, metadata, next_action: null };
  switch (type) {
    case 'payment_intent.succeeded':
      return { ...base, status: 'succeeded', latest_charge: payment.chargeId, last_payment_error: null };
    case 'payment_intent.payment_failed':
      return { ...base, status: 'requires_payment_method', latest_charge: payment.chargeId, last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' } };
    case 'charge.succeeded':
      return {
        id: payment.chargeId,
        object: 'charge',
        amount: 8900,
        currency: 'usd',
        livemode: false,
        paid: true,
        status: 'succeeded',
        payment_intent: payment.intentId,
        receipt_url: `${RECEIPT_URL}/${payment.chargeId}`,
        metadata,
        created,
      };
    default:
      throw new Error(`no payload for ${type}`);
  }
}

/** Insert one processing payment per event, as if `POST /api/v1/payments` had created them and Stripe had not answered yet. */
async function seedPaymentsAndEvents(stack, tenants, round) {
  const payments = [];
  for (let index = 0; index < EVENTS; index++) {
    const tenant = tenants[index % tenants.length];
    const key = `r${round}_${index}`;
    payments.push({ id: crypto.randomUUID(), tenantId: tenant.tenantId, intentId: `pi_e2e_${key}`, chargeId: `ch_e2e_${key}`, type: EVENT_MIX[index % EVENT_MIX.length], tenant });
  }
  await h.query(
    stack.databaseUrl,
    `INSERT INTO payments (id, tenant_id, status, amount, currency, livemode, stripe_payment_intent_id, metadata)
     SELECT id, tenant_id, 'processing', 8900, 'usd', false, intent_id, jsonb_build_object('bench', 'end-to-end')
       FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS p(id, tenant_id, intent_id)`,
    [payments.map((p) => p.id), payments.map((p) => p.tenantId), payments.map((p) => p.intentId)],
  );

  const created = Math.floor(Date.now() / 1000);
  const events = payments.map((payment, index) => {
    const id = `evt_e2e_r${round}_${index}`;
    const body = JSON.stringify({
      id,
      object: 'event',
      api_version: '2026-11-18.endive',
      created,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: payment.type,
      data: { object: stripeObject(payment.type, payment, created) },
    });

    return { id, url: payment.tenant.webhookUrl, secret: payment.tenant.secret, body };
  });

  return { payments, events };
}

const FINISHED = "status IN ('processed', 'ignored', 'failed')";

async function waitForInbox(stack, round, accepted) {
  const pattern = `evt_e2e_r${round}_%`;
  const done = await pollUntil(
    async () => {
      const rows = await h.query(stack.databaseUrl, `SELECT count(*) FILTER (WHERE ${FINISHED}) AS finished FROM webhook_events WHERE stripe_event_id LIKE $1`, [pattern]);

      return Number(rows[0].finished) >= accepted;
    },
    { timeoutMs: Math.max(120_000, EVENTS * 30), intervalMs: 500 },
  );
  const [timing] = await h.query(
    stack.databaseUrl,
    `SELECT count(*) AS events, extract(epoch FROM max(processed_at) - min(received_at)) AS seconds
       FROM webhook_events WHERE stripe_event_id LIKE $1`,
    [pattern],
  );

  return { finishedInTime: done, events: Number(timing.events), seconds: Number(timing.seconds) };
}

/** Wait until every paid payment of the round has its invoice linked, the last step of the outbox chain. */
async function waitForInvoices(stack, round, expected) {
  return pollUntil(
    async () => {
      const rows = await h.query(
        stack.databaseUrl,
        `SELECT count(*) AS linked FROM payments WHERE stripe_payment_intent_id LIKE $1 AND status = 'succeeded' AND invoice_id IS NOT NULL`,
        [`pi_e2e_r${round}_%`],
      );

      return Number(rows[0].linked) >= expected;
    },
    { timeoutMs: Math.max(120_000, expected * 30), intervalMs: 500 },
  );
}

/** Check in the database that each event of the round was stored once and applied once. */
async function verifyRound(stack, round, payments, acceptedIds) {
  const db = stack.databaseUrl;
  const eventPattern = `evt_e2e_r${round}_%`;
  const intentPattern = `pi_e2e_r${round}_%`;
  const expected = { succeeded: 0, failed: 0, charge: 0 };
  for (const payment of payments) {
    if (payment.type === 'payment_intent.succeeded') expected.succeeded += 1;
    else if (payment.type === 'payment_intent.payment_failed') expected.failed += 1;
    else expected.charge += 1;
  }

  const inboxByStatus = Object.fromEntries(
    (await h.query(db, `SELECT status, count(*) AS n, sum(attempts) AS attempts FROM webhook_events WHERE stripe_event_id LIKE $1 GROUP BY status`, [eventPattern])).map(
      (row) => [row.status, { events: Number(row.n), attempts: Number(row.attempts) }],
    ),
  );
  const [inbox] = await h.query(
    db,
    `SELECT count(*) AS rows, count(DISTINCT (tenant_id, stripe_event_id)) AS distinct_events,
            count(*) FILTER (WHERE stripe_event_id = ANY($2)) AS accepted_rows, max(attempts) AS max_attempts
       FROM webhook_events WHERE stripe_event_id LIKE $1`,
    [eventPattern, acceptedIds],
  );
  const paymentStates = await h.query(
    db,
    `SELECT status, (stripe_charge_id IS NOT NULL) AS has_charge, (receipt_url LIKE $2) AS has_receipt, failure_code,
            (invoice_id IS NOT NULL) AS has_invoice, count(*) AS n
       FROM payments WHERE stripe_payment_intent_id LIKE $1
      GROUP BY 1, 2, 3, 4, 5 ORDER BY 1`,
    [intentPattern, `${RECEIPT_URL}/%`],
  );
  const countOf = (predicate) => paymentStates.filter(predicate).reduce((sum, row) => sum + Number(row.n), 0);
  const [invoices] = await h.query(
    db,
    `SELECT count(*) AS invoices, count(DISTINCT i.payment_id) AS paid_payments, count(*) FILTER (WHERE i.status = 'paid' AND i.number IS NOT NULL) AS numbered_paid
       FROM invoices i JOIN payments p ON p.tenant_id = i.tenant_id AND p.id = i.payment_id
      WHERE p.stripe_payment_intent_id LIKE $1`,
    [intentPattern],
  );
  const [outbox] = await h.query(
    db,
    `SELECT count(*) FILTER (WHERE o.event_name = 'payments.payment_succeeded') AS succeeded_events,
            count(DISTINCT o.aggregate_id) FILTER (WHERE o.event_name = 'payments.payment_succeeded') AS succeeded_payments,
            count(*) FILTER (WHERE o.event_name = 'payments.payment_failed') AS failed_events
       FROM outbox_events o JOIN payments p ON p.id::text = o.aggregate_id
      WHERE p.stripe_payment_intent_id LIKE $1`,
    [intentPattern],
  );
  // Semi-joins on the round's ids: joining through aggregate_id::text directly made PostgreSQL pick a nested loop that ran for minutes.
  const [processed] = await h.query(
    db,
    `WITH round_payments AS (SELECT id, tenant_id FROM payments WHERE stripe_payment_intent_id LIKE $1),
          round_invoices AS (SELECT i.id FROM invoices i JOIN round_payments p ON p.tenant_id = i.tenant_id AND p.id = i.payment_id)
     SELECT
       (SELECT count(*) FROM processed_messages m JOIN outbox_events o ON o.id = m.message_id
         WHERE m.consumer = 'invoicing.issue-paid-invoice' AND o.aggregate_id IN (SELECT id::text FROM round_payments)) AS issue_claims,
       (SELECT count(*) FROM processed_messages m JOIN outbox_events o ON o.id = m.message_id
         WHERE m.consumer = 'payments.link-invoice' AND o.aggregate_id IN (SELECT id::text FROM round_invoices)) AS link_claims`,
    [intentPattern],
  );

  const checks = {
    inboxRowsEqualAccepted: Number(inbox.rows) === acceptedIds.length && Number(inbox.accepted_rows) === acceptedIds.length,
    inboxNoDuplicates: Number(inbox.rows) === Number(inbox.distinct_events),
    inboxAllProcessed: (inboxByStatus.processed?.events ?? 0) === acceptedIds.length,
    paidOnce:
      countOf((r) => r.status === 'succeeded' && r.has_charge && r.has_invoice) === expected.succeeded &&
      Number(outbox.succeeded_events) === expected.succeeded &&
      Number(outbox.succeeded_payments) === expected.succeeded,
    invoiceOncePerPaidPayment:
      Number(invoices.invoices) === expected.succeeded && Number(invoices.paid_payments) === expected.succeeded && Number(invoices.numbered_paid) === expected.succeeded,
    failedOnce: countOf((r) => r.status === 'failed' && r.failure_code === 'card_declined') === expected.failed && Number(outbox.failed_events) === expected.failed,
    chargeApplied: countOf((r) => r.status === 'processing' && r.has_charge && r.has_receipt) === expected.charge,
    outboxConsumedOnce: Number(processed.issue_claims) === expected.succeeded && Number(processed.link_claims) === expected.succeeded,
  };

  return {
    expected,
    inboxByStatus,
    inbox: { rows: Number(inbox.rows), distinct: Number(inbox.distinct_events), maxAttempts: Number(inbox.max_attempts) },
    payments: paymentStates.map((row) => ({ ...row, n: Number(row.n) })),
    invoices: { invoices: Number(invoices.invoices), paidPayments: Number(invoices.paid_payments), numberedPaid: Number(invoices.numbered_paid) },
    outbox: { succeededEvents: Number(outbox.succeeded_events), succeededPayments: Number(outbox.succeeded_payments), failedEvents: Number(outbox.failed_events) },
    processedMessages: { issueClaims: Number(processed.issue_claims), linkClaims: Number(processed.link_claims) },
    checks,
    allHold: Object.values(checks).every(Boolean),
  };
}

async function main() {
  const stack = await startStack({ database: DATABASE, roles: ['api', 'worker'], name: 'bench-e2e' });
  const ceiling = await startCeiling({ database: `${DATABASE}_ceiling`, redisUrl: stack.redisUrl });
  const tenants = await seedTenants(stack, { count: TENANTS, prefix: 'bench-e2e' });

  // Warm the ceiling and the service so the first measured round is not the JIT's.
  await ceiling.measure({ seconds: 3, connections: CONNECTIONS });
  const warm = await seedPaymentsAndEvents(stack, tenants, 0);
  await sendEvents({ events: warm.events.slice(0, Math.min(1000, EVENTS)), connections: CONNECTIONS });
  await waitForInbox(stack, 0, Math.min(1000, EVENTS));

  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const ceilingResult = await ceiling.measure({ seconds: CEILING_SECONDS, connections: CONNECTIONS });
    const { payments, events } = await seedPaymentsAndEvents(stack, tenants, round);
    const cpuBefore = { api: cpuSeconds(stack.processes.api.pid), worker: cpuSeconds(stack.processes.worker.pid) };
    const activity = process.env.BENCH_PG_ACTIVITY ? sampleDatabaseActivity(stack.databaseUrl, DATABASE) : null;
    const { acceptedIds, ...send } = await sendEvents({ events, connections: CONNECTIONS });
    const inbox = await waitForInbox(stack, round, acceptedIds.length);
    if (activity) {
      console.log(JSON.stringify(await activity.stop(), null, 1));
    }
    const processedPerSecond = inbox.events / inbox.seconds;
    // Measured before the invoice chain is awaited, so it covers intake and the webhook handlers plus the outbox work done meanwhile.
    const cpuMsPerEvent = Object.fromEntries(
      Object.entries(cpuBefore).map(([role, before]) => [role, before === null ? null : Number((((cpuSeconds(stack.processes[role].pid) - before) * 1000) / inbox.events).toFixed(3))]),
    );
    const invoicesLinked = await waitForInvoices(stack, round, payments.filter((p) => p.type === 'payment_intent.succeeded').length);
    const verification = await verifyRound(stack, round, payments, acceptedIds);
    rounds.push({
      round,
      ceiling: ceilingResult,
      service: { send, inbox, processedPerSecond, cpuMsPerEvent, invoicesLinkedInTime: Boolean(invoicesLinked), verification },
      ratio: processedPerSecond / ceilingResult.rps,
    });
    console.log(
      `round ${round}: ceiling ${ceilingResult.rps.toFixed(0)} req/s; service accepted ${acceptedIds.length}/${EVENTS} at ${send.rps.toFixed(0)} req/s, ` +
        `processed ${inbox.events} in ${inbox.seconds.toFixed(1)} s = ${processedPerSecond.toFixed(0)}/s (${(processedPerSecond / ceilingResult.rps).toFixed(2)}×); ` +
        `CPU per event: api ${cpuMsPerEvent.api} ms, worker ${cpuMsPerEvent.worker} ms, ceiling ${ceilingResult.cpuMsPerRequest} ms per request; ` +
        `checks ${verification.allHold ? 'hold' : 'FAIL ' + JSON.stringify(verification.checks)}`,
    );
  }

  const ratio = mean(rounds.map((r) => r.ratio));
  const non2xx = rounds.reduce((sum, r) => sum + r.service.send.non2xx + r.service.send.errors + r.service.send.timeouts, 0);
  const allHold = rounds.every((r) => r.service.verification.allHold && r.service.invoicesLinkedInTime && r.service.inbox.finishedInTime);
  const table = h.markdownTable(
    ['measure', 'result', 'target', 'met'],
    [
      ['ceiling intake (req/s, mean)', mean(rounds.map((r) => r.ceiling.rps)).toFixed(0), '', ''],
      ['service intake while sending (req/s, mean)', mean(rounds.map((r) => r.service.send.rps)).toFixed(0), '', ''],
      ['processed, first receipt to last processed (events/s, mean)', mean(rounds.map((r) => r.service.processedPerSecond)).toFixed(0), '', ''],
      ['CPU per event, api + worker processes (ms, mean)', mean(rounds.map((r) => r.service.cpuMsPerEvent.api + r.service.cpuMsPerEvent.worker)).toFixed(2), '', ''],
      ['CPU per request, ceiling process (ms, mean)', mean(rounds.map((r) => r.ceiling.cpuMsPerRequest)).toFixed(2), '', ''],
      ['processed / ceiling intake', ratio.toFixed(2), `≥ ${TARGET_RATIO.toFixed(2)}`, ratio >= TARGET_RATIO ? 'yes' : 'no'],
      ['non-2xx, errors, timeouts', String(non2xx), '0', non2xx === 0 ? 'yes' : 'no'],
      ['none lost, none applied twice (database checks)', allHold ? 'yes' : 'no', 'yes', allHold ? 'yes' : 'no'],
    ],
  );
  console.log(`\nEnd to end, ${EVENTS} events over ${TENANTS} tenants, api and worker processes, ${ROUNDS} rounds A B\n\n${table}\n`);
  if (!values['no-record']) {
    h.record(`End to end (${EVENTS} events, ${TENANTS} tenants, ${CONNECTIONS} connections, ${ROUNDS} rounds)`, table, rounds);
  }
  await stopStack(stack);
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
