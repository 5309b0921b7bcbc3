// Drives a webhook URL with distinct, freshly signed Stripe-shaped events, the
// same stream for the ceiling server and the service (see load-reference.js,
// the command-line original), and returns autocannon's figures.
'use strict';

const crypto = require('node:crypto');
const autocannon = require('autocannon');

const EVENT_TYPES = ['payment_intent.succeeded', 'payment_intent.payment_failed', 'charge.succeeded', 'charge.refunded', 'invoice.paid'];

/** Build one signed delivery; `type` defaults to payment_intent.succeeded, as in the reference load. */
function signedEvent(secret, sequence, { type = 'payment_intent.succeeded', prefix = process.pid } = {}) {
  const id = `evt_${prefix}_${Date.now()}_${sequence}`;
  const body = JSON.stringify(
    {
      id,
      object: 'event',
      api_version: '2026-11-18.endive',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: { object: { id: `pi_${prefix}_${sequence}`, object: 'payment_intent', amount: 8900, currency: 'usd', status: 'succeeded', metadata: {} } },
    },
    null,
    2,
  );
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');

  return { id, body, headers: { 'content-type': 'application/json', 'stripe-signature': `t=${timestamp},v1=${signature}` } };
}

/**
 * Load `url` for `seconds` with `connections` concurrent connections.
 * `targets` may list several { url, secret } to spread events over tenants.
 */
function runLoad({ targets, connections = 50, seconds = 10, amount, mixedTypes = false }) {
  let sequence = 0;
  // Ids of the events that got a 2xx response. Each connection has one request
  // in flight (no pipelining), so the connection's context names that event.
  const acceptedIds = [];
  const first = new URL(targets[0].url);

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${first.protocol}//${first.host}`,
        connections,
        duration: amount ? undefined : seconds,
        amount,
        method: 'POST',
        requests: [
          {
            setupRequest: (request, context) => {
              sequence += 1;
              const target = targets[sequence % targets.length];
              const type = mixedTypes ? EVENT_TYPES[sequence % EVENT_TYPES.length] : undefined;
              const event = signedEvent(target.secret, sequence, { type });
              context.eventId = event.id;

              return { ...request, path: new URL(target.url).pathname, body: event.body, headers: event.headers };
            },
            onResponse: (status, _body, context) => {
              if (status >= 200 && status < 300) {
                acceptedIds.push(context.eventId);
              }
            },
          },
        ],
      },
      (error, result) => {
        if (error) {
          reject(error);

          return;
        }
        resolve({
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          total: result.requests.total,
          durationSeconds: result.duration,
          acceptedIds,
        });
      },
    );
    instance.on('error', reject);
  });
}

/** Sign a prepared event body the way Stripe does, with the current time. */
function signBody(secret, body) {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');

  return { 'content-type': 'application/json', 'stripe-signature': `t=${timestamp},v1=${signature}` };
}

/**
 * Send each of `events` ({ url, secret, body, id }) once, as fast as they are
 * accepted over `connections` connections. Each body is signed when it is sent,
 * so a long run stays inside the 300 s tolerance. Returns autocannon's figures
 * and the ids that got a 2xx response.
 */
function sendEvents({ events, connections = 50 }) {
  let next = 0;
  const acceptedIds = [];
  const first = new URL(events[0].url);

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${first.protocol}//${first.host}`,
        connections,
        amount: events.length,
        method: 'POST',
        requests: [
          {
            setupRequest: (request, context) => {
              const event = events[next % events.length];
              next += 1;
              context.eventId = event.id;

              return { ...request, path: new URL(event.url).pathname, body: event.body, headers: signBody(event.secret, event.body) };
            },
            onResponse: (status, _body, context) => {
              if (status >= 200 && status < 300) {
                acceptedIds.push(context.eventId);
              }
            },
          },
        ],
      },
      (error, result) => {
        if (error) {
          reject(error);

          return;
        }
        resolve({
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          ok: result['2xx'],
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          total: result.requests.total,
          durationSeconds: result.duration,
          acceptedIds,
        });
      },
    );
    instance.on('error', reject);
  });
}

module.exports = { EVENT_TYPES, runLoad, sendEvents, signBody, signedEvent };
