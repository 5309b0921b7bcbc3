#!/usr/bin/env node
// Invoice numbers: finalizations through `POST /api/v1/invoices/:id/finalize`,
// a fixed number in flight at a time, over several tenants, with the api and
// worker roles as separate processes (the worker issues each finalized invoice
// in the emulator meanwhile). Numbers per second are divided by the ceiling
// server's intake rate measured in the same run, alternating A B A B. Before
// each ceiling turn the script waits for the worker to finish the invoices of
// the round before, so the ceiling runs on idle cores. The
// numbers of each tenant are checked in the database for gaps and duplicates.
// usage: node bench/invoice-numbers.js [flags] (--help lists the flags and their defaults)
'use strict';

const h = require('./lib/harness');
const { NO_RECORD_FLAG, databaseFlag, readFlags } = require('./lib/options');
const { cpuSeconds, mean, retryClosedSocket, seedTenants, startCeiling, startStack, stopStack } = require('./lib/stack');

const values = readFlags({
  script: 'bench/invoice-numbers.js',
  summary:
    'Measures invoice numbers per second through POST /api/v1/invoices/:id/finalize as a ratio to the ceiling ' +
    "server's intake rate, alternating A B A B, and checks each tenant's numbers for gaps and duplicates.",
  flags: {
    invoices: { type: 'integer', default: 2000, description: 'draft invoices finalized in each round' },
    concurrency: { type: 'integer', default: 50, description: 'finalize requests in flight at a time' },
    tenants: { type: 'integer', default: 10, description: 'tenants the invoices are spread over' },
    rounds: { type: 'integer', default: 2, description: 'measured rounds, each a ceiling run followed by the finalizations' },
    'ceiling-seconds': { type: 'integer', default: 10, description: 'seconds of load on the ceiling server in each round' },
    database: databaseFlag('billing_bench_suite_invoices', { ceiling: true }),
    roles: {
      type: 'string',
      default: 'api,worker',
      valueName: 'ROLES',
      description: 'service processes to run: api,worker, or api alone to measure the numbering without the worker issuing invoices beside it',
      check: checkRoles,
    },
    'no-record': NO_RECORD_FLAG,
  },
});
const INVOICES = values.invoices;
const CONCURRENCY = values.concurrency;
const TENANTS = values.tenants;
const ROUNDS = values.rounds;
const CEILING_SECONDS = values['ceiling-seconds'];
const TARGET_RATIO = 0.1;
const DATABASE = values.database;
const ROLES = values.roles.split(',').map((role) => role.trim());

function checkRoles(text) {
  const roles = text.split(',').map((role) => role.trim());
  if (!roles.includes('api') || roles.some((role) => role !== 'api' && role !== 'worker') || new Set(roles).size !== roles.length) {
    return 'must be "api" or "api,worker"';
  }

  return null;
}

/** Run `work(item)` over `items` with at most `limit` in flight; returns each call's result or error in order. */
async function inPool(items, limit, work) {
  const results = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      try {
        results[index] = { value: await work(items[index]) };
      } catch (error) {
        results[index] = { error: String(error) };
      }
    }
  });
  await Promise.all(lanes);

  return results;
}

/** Create `count` drafts spread over the tenants through the API, 10 requests at a time. */
async function createDrafts(stack, tenants, customers, count) {
  const plan = Array.from({ length: count }, (_, index) => tenants[index % tenants.length]);
  const created = await inPool(plan, 10, (tenant) =>
    retryClosedSocket(() =>
      h.http('POST', `${stack.serviceUrl}/api/v1/invoices`, tenant.ownerToken, {
        customerId: customers.get(tenant.tenantId),
        currency: 'usd',
        daysUntilDue: 30,
        lines: [{ description: 'Benchmark line', quantity: 2, unitAmount: 4500 }],
      }),
    ),
  );
  const failed = created.filter((result) => result.error);
  if (failed.length > 0) {
    throw new Error(`creating ${failed.length} draft invoices failed, first: ${failed[0].error}`);
  }

  return created.map((result, index) => ({ id: result.value.id, tenant: plan[index] }));
}

/** CPU seconds (user plus system) each service process has used so far, by role. */
function serviceCpuSeconds(stack) {
  return Object.fromEntries(Object.entries(stack.processes).map(([role, child]) => [role, cpuSeconds(child.pid)]));
}

async function finalizeAll(stack, drafts) {
  const cpuBefore = serviceCpuSeconds(stack);
  const started = performance.now();
  const results = await inPool(drafts, CONCURRENCY, async (draft) => {
    const response = await fetch(`${stack.serviceUrl}/api/v1/invoices/${draft.id}/finalize`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${draft.tenant.ownerToken}` },
    });
    const body = await response.json();

    return { status: response.status, number: body.number ?? null };
  });
  const seconds = (performance.now() - started) / 1000;
  // Over the same window as the rate, so the worker's share is what it took from the cores meanwhile.
  const cpuAfter = serviceCpuSeconds(stack);
  const cpuMsPerFinalize = Object.fromEntries(
    Object.entries(cpuBefore).map(([role, before]) => [role, before === null ? null : Number((((cpuAfter[role] - before) * 1000) / drafts.length).toFixed(3))]),
  );
  const statuses = {};
  for (const result of results) {
    const key = result.error ? 'error' : String(result.value.status);
    statuses[key] = (statuses[key] ?? 0) + 1;
  }

  return { seconds, numbersPerSecond: (statuses['200'] ?? 0) / seconds, cpuMsPerFinalize, statuses, firstError: results.find((r) => r.error)?.error ?? null };
}

/**
 * Waits until the worker is idle: every finalized invoice issued, the webhook events Stripe sent
 * about them processed, and any job those started done. Without the wait, the ceiling's next
 * turn shares the cores with the backlog of the round before. Idle means less than 5 % of a
 * core over one second, on an otherwise idle machine. Returns the seconds waited; gives up
 * after `timeoutMs` with a warning.
 */
async function waitForIdleWorker(stack, timeoutMs = 180_000) {
  const started = performance.now();
  const worker = stack.processes.worker.pid;
  for (;;) {
    const before = cpuSeconds(worker);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [row] = await h.query(
      stack.databaseUrl,
      `SELECT (SELECT count(*) FROM invoices WHERE status = 'issuing') AS issuing,
              (SELECT count(*) FROM webhook_events WHERE status IN ('received', 'processing')) AS unprocessed`,
    );
    const busy = before === null ? 0 : cpuSeconds(worker) - before;
    if (Number(row.issuing) === 0 && Number(row.unprocessed) === 0 && busy < 0.05) {
      return (performance.now() - started) / 1000;
    }
    if (performance.now() - started > timeoutMs) {
      console.warn(`the worker still had ${row.issuing} invoices to issue and ${row.unprocessed} events to process after ${timeoutMs / 1000} s; measuring anyway`);

      return (performance.now() - started) / 1000;
    }
  }
}

/** Per tenant and mode: numbers must run 1..n within each year with none repeated. */
async function checkNumbers(stack) {
  const rows = await h.query(
    stack.databaseUrl,
    `SELECT tenant_id, livemode, split_part(number, '-', 2) AS year,
            count(*) AS numbered, count(DISTINCT number) AS distinct_numbers,
            min(split_part(number, '-', 3)::int) AS first, max(split_part(number, '-', 3)::int) AS last
       FROM invoices WHERE number IS NOT NULL
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  );
  const sequences = rows.map((row) => ({
    tenantId: row.tenant_id,
    livemode: row.livemode,
    year: row.year,
    numbered: Number(row.numbered),
    duplicates: Number(row.numbered) - Number(row.distinct_numbers),
    // Numbers start at 1, so a sequence without gaps has as many distinct numbers as its last one.
    gaps: Number(row.last) - Number(row.distinct_numbers),
  }));
  const [drafts] = await h.query(stack.databaseUrl, `SELECT count(*) FILTER (WHERE status = 'draft') AS drafts, count(*) FILTER (WHERE status <> 'draft' AND number IS NULL) AS unnumbered FROM invoices`);

  return {
    sequences,
    duplicates: sequences.reduce((sum, s) => sum + s.duplicates, 0),
    gaps: sequences.reduce((sum, s) => sum + s.gaps, 0),
    draftsLeft: Number(drafts.drafts),
    finalizedWithoutNumber: Number(drafts.unnumbered),
  };
}

async function main() {
  const stack = await startStack({ database: DATABASE, roles: ROLES, name: 'bench-invoices' });
  const ceiling = await startCeiling({ database: `${DATABASE}_ceiling`, redisUrl: stack.redisUrl });
  const tenants = await seedTenants(stack, { count: TENANTS, prefix: 'bench-invoices', ownSecret: false });
  const customers = new Map();
  for (const tenant of tenants) {
    const customer = await retryClosedSocket(() =>
      h.http('POST', `${stack.serviceUrl}/api/v1/customers`, tenant.ownerToken, { name: `Customer of ${tenant.slug}`, email: `billing@${tenant.slug}.example.com` }),
    );
    customers.set(tenant.tenantId, customer.id);
  }

  // Warm up the ceiling and the finalize path so the first measured round is not the JIT's.
  await ceiling.measure({ seconds: 3 });
  await finalizeAll(stack, await createDrafts(stack, tenants, customers, 200));

  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (ROLES.includes('worker')) {
      const drained = await waitForIdleWorker(stack);
      console.log(`round ${round}: waited ${drained.toFixed(1)} s for the worker to go idle`);
    }
    const ceilingResult = await ceiling.measure({ seconds: CEILING_SECONDS });
    const drafts = await createDrafts(stack, tenants, customers, INVOICES);
    const finalize = await finalizeAll(stack, drafts);
    rounds.push({ round, ceiling: ceilingResult, service: { invoices: drafts.length, ...finalize }, ratio: finalize.numbersPerSecond / ceilingResult.rps });
    console.log(
      `round ${round}: ceiling ${ceilingResult.rps.toFixed(0)} req/s; ${drafts.length} finalizations in ${finalize.seconds.toFixed(1)} s = ` +
        `${finalize.numbersPerSecond.toFixed(0)} numbers/s (${(finalize.numbersPerSecond / ceilingResult.rps).toFixed(2)}×), statuses ${JSON.stringify(finalize.statuses)}; ` +
        `CPU per finalize: ${Object.entries(finalize.cpuMsPerFinalize).map(([role, ms]) => `${role} ${ms} ms`).join(', ')}, ceiling ${ceilingResult.cpuMsPerRequest} ms per request`,
    );
  }
  const numbers = await checkNumbers(stack);

  const ratio = mean(rounds.map((r) => r.ratio));
  const failures = rounds.reduce((sum, r) => sum + r.service.invoices - (r.service.statuses['200'] ?? 0), 0);
  const table = h.markdownTable(
    ['measure', 'result', 'target', 'met'],
    [
      ['ceiling intake (req/s, mean)', mean(rounds.map((r) => r.ceiling.rps)).toFixed(0), '', ''],
      ['numbers per second (mean)', mean(rounds.map((r) => r.service.numbersPerSecond)).toFixed(0), '', ''],
      [`CPU per finalization, ${ROLES.join(' + ')} processes (ms, mean)`, mean(rounds.map((r) => ROLES.reduce((sum, role) => sum + r.service.cpuMsPerFinalize[role], 0))).toFixed(2), '', ''],
      ['numbers per second / ceiling intake', ratio.toFixed(2), `≥ ${TARGET_RATIO.toFixed(2)}`, ratio >= TARGET_RATIO ? 'yes' : 'no'],
      ['finalizations not answered 200', String(failures), '0', failures === 0 ? 'yes' : 'no'],
      ['gaps in a tenant sequence', String(numbers.gaps), '0', numbers.gaps === 0 ? 'yes' : 'no'],
      ['duplicate numbers in a tenant sequence', String(numbers.duplicates), '0', numbers.duplicates === 0 ? 'yes' : 'no'],
      ['finalized invoices without a number', String(numbers.finalizedWithoutNumber), '0', numbers.finalizedWithoutNumber === 0 ? 'yes' : 'no'],
    ],
  );
  const roles = ROLES.includes('worker') ? '' : `, ${ROLES.join(' and ')} only`;
  console.log(`\nInvoice numbers, ${INVOICES} finalizations per round, ${CONCURRENCY} at a time, ${TENANTS} tenants, ${ROUNDS} rounds A B${roles}\n\n${table}\n`);
  if (!values['no-record']) {
    h.record(`Invoice numbers (${INVOICES} finalizations, ${CONCURRENCY} at a time, ${TENANTS} tenants, ${ROUNDS} rounds${roles})`, table, { rounds, numbers });
  }
  await stopStack(stack);
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
