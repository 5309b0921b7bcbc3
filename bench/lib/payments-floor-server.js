// The payments benchmark's reference: the database and Stripe work of POST /api/v1/payments
// with no framework around it. This plain node:http server looks up the bearer token, reads
// the Stripe connection and inserts a processing row. It then creates and confirms the
// PaymentIntent with stripe-node as the service configures it, updates the row and responds
// with 201. It checks nothing else and keeps no idempotency record, so it is a floor to
// compare with, never a payment endpoint.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const { Pool } = require('pg');
const Stripe = require('stripe');

const TABLE = 'bench_floor_payments';
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const emulator = new URL(process.env.STRIPE_API_BASE);
const stripe = new Stripe(process.env.STRIPE_SECRET_KEY, {
  apiVersion: Stripe.API_VERSION,
  timeout: 20_000,
  maxNetworkRetries: 2,
  telemetry: false,
  appInfo: { name: 'billing-service' },
  host: emulator.hostname,
  port: emulator.port,
  protocol: 'http',
});

function send(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

async function pay(request, body) {
  const token = (request.headers.authorization ?? '').replace(/^Bearer /, '');
  const tokenHash = crypto.createHash('sha256').update(token, 'utf8').digest('hex');
  const { rows: tokens } = await pool.query('SELECT tenant_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL', [tokenHash]);
  if (tokens.length === 0) {
    return { status: 401, body: { code: 'unauthenticated' } };
  }
  const tenantId = tokens[0].tenant_id;
  await pool.query('SELECT id, status, mode, account_id, version, secret_key_ciphertext, secret_key_key_id FROM stripe_connections WHERE tenant_id = $1', [tenantId]);

  const id = crypto.randomUUID();
  await pool.query(`INSERT INTO ${TABLE} (id, tenant_id, amount, currency, status) VALUES ($1, $2, $3, $4, 'processing')`, [id, tenantId, body.amount, body.currency]);
  const intent = await stripe.paymentIntents.create(
    {
      amount: body.amount,
      currency: body.currency,
      payment_method: body.paymentMethod,
      allowed_payment_method_types: ['card'],
      confirm: true,
      description: body.description,
      receipt_email: body.receiptEmail,
      metadata: { billingPaymentId: id, billingTenantId: tenantId },
      expand: ['latest_charge'],
    },
    { idempotencyKey: `payment-${id}-create` },
  );
  const { rows } = await pool.query(`UPDATE ${TABLE} SET status = $2, stripe_payment_intent_id = $3 WHERE id = $1 RETURNING *`, [id, intent.status, intent.id]);

  return { status: 201, body: { id, status: rows[0].status, amount: rows[0].amount, currency: rows[0].currency, stripePaymentIntentId: intent.id } };
}

async function main() {
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, amount integer NOT NULL, currency text NOT NULL,
       status text NOT NULL, stripe_payment_intent_id text, created_at timestamptz NOT NULL DEFAULT now())`,
  );
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      pay(request, JSON.parse(Buffer.concat(chunks).toString('utf8'))).then(
        (result) => send(response, result.status, result.body),
        (error) => {
          console.error(error);
          send(response, 500, { code: 'internal_error' });
        },
      );
    });
  });
  server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`payments floor listening on 127.0.0.1:${process.env.PORT}`));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
