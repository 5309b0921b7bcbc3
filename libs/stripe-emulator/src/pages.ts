import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatAmount } from './currencies';
import { StripeApiError } from './errors';
import { AUTOMATIC_REQUEST } from './events';
import { decodeForm } from './form-decoding';
import { escapeHtml, readBody, redirect, sendHtml } from './http-io';
import { completeAuthentication } from './payment-confirmation';
import type { EmulatorState } from './state';

/*
 * The browser pages Stripe hosts and the emulator imitates: the receipt behind a charge's
 * `receipt_url`, and the 3D Secure challenge behind `next_action` URLs.
 */

function page(title: string, body: string): string {
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    `<title>${escapeHtml(title)}</title>` +
    '<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}' +
    'dt{color:#666}dd{margin:0 0 .75rem}button{font-size:1rem;margin-right:.5rem}</style>' +
    `</head><body>${body}</body></html>`
  );
}

function notFound(response: ServerResponse, detail: string): void {
  sendHtml(response, 404, page('Not found', `<h1>Not found</h1><p>${escapeHtml(detail)}</p>`));
}

/** Serves `GET /receipts/:chargeId`, a receipt like the one Stripe hosts at a charge's `receipt_url`. */
export function serveReceipt(state: EmulatorState, response: ServerResponse, chargeId: string): void {
  const found = state.charges.lookup(chargeId);
  if (!found || !found.object.paid) {
    notFound(response, `No receipt for charge ${chargeId}.`);
    return;
  }

  const charge = found.object;
  const account = state.accounts.getAccount(found.accountId);
  const merchant = account?.displayName ?? account?.id ?? 'Unknown merchant';
  const card = charge.payment_method_details?.card;

  const rows: [string, string][] = [
    ['Amount paid', formatAmount(charge.amount_captured || charge.amount, charge.currency)],
    ['Date paid', new Date(charge.created * 1000).toUTCString()],
    ['Payment method', card ? `${card.brand ?? 'card'} ending in ${card.last4 ?? '????'}` : 'card'],
    ['Charge', charge.id],
  ];
  if (charge.amount_refunded > 0) {
    rows.push(['Refunded', formatAmount(charge.amount_refunded, charge.currency)]);
  }
  if (charge.receipt_email) {
    rows.push(['Sent to', charge.receipt_email]);
  }
  if (charge.description) {
    rows.push(['Description', charge.description]);
  }

  const list = rows.map(([term, value]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(value)}</dd>`).join('');
  sendHtml(
    response,
    200,
    page(`Receipt from ${merchant}`, `<h1>Receipt from ${escapeHtml(merchant)}</h1><dl>${list}</dl>`),
  );
}

/** Serves `GET /authenticate/:intentId`, the 3D Secure challenge with buttons to pass or fail it. */
export function serveAuthenticationPage(state: EmulatorState, response: ServerResponse, intentId: string): void {
  const found = state.paymentIntents.lookup(intentId);
  if (!found) {
    notFound(response, `No PaymentIntent ${intentId}.`);
    return;
  }
  const intent = found.object;
  if (intent.status !== 'requires_action') {
    sendHtml(
      response,
      409,
      page(
        'Nothing to authenticate',
        `<p>PaymentIntent ${escapeHtml(intent.id)} has status ${escapeHtml(intent.status)}.</p>`,
      ),
    );
    return;
  }
  const action = `/authenticate/${encodeURIComponent(intent.id)}`;
  const button = (outcome: string, label: string): string =>
    `<form method="post" action="${escapeHtml(action)}" style="display:inline">` +
    `<input type="hidden" name="outcome" value="${outcome}"><button type="submit">${label}</button></form>`;
  sendHtml(
    response,
    200,
    page(
      '3D Secure test payment',
      `<h1>3D Secure test payment</h1><p>${escapeHtml(formatAmount(intent.amount, intent.currency))} ` +
        `for PaymentIntent ${escapeHtml(intent.id)}.</p>` +
        button('succeeded', 'Complete authentication') +
        button('failed', 'Fail authentication'),
    ),
  );
}

/**
 * Handles `POST /authenticate/:intentId` with `outcome=succeeded|failed`. It finishes the challenge
 * and, when the intent was confirmed with a `return_url`, redirects there with the query
 * parameters Stripe appends (`payment_intent`, `payment_intent_client_secret`, `redirect_status`).
 */
export async function submitAuthentication(
  state: EmulatorState,
  request: IncomingMessage,
  response: ServerResponse,
  intentId: string,
): Promise<void> {
  const found = state.paymentIntents.lookup(intentId);
  const form = decodeForm(await readBody(request));
  const outcome = form.outcome === 'failed' ? 'failed' : 'succeeded';
  const ctx = found ? state.contextFor(found.accountId, found.livemode, AUTOMATIC_REQUEST) : undefined;
  if (!found || !ctx) {
    notFound(response, `No PaymentIntent ${intentId}.`);
    return;
  }
  const intent = found.object;
  const returnUrl = intent.next_action?.redirect_to_url?.return_url ?? null;
  try {
    completeAuthentication(ctx, intent, outcome);
  } catch (error) {
    if (error instanceof StripeApiError) {
      sendHtml(response, 409, page('Authentication failed', `<p>${escapeHtml(error.message)}</p>`));
      return;
    }
    throw error;
  }
  const target = returnUrl !== null && URL.canParse(returnUrl) ? new URL(returnUrl) : null;
  if (target) {
    target.searchParams.set('payment_intent', intent.id);
    target.searchParams.set('payment_intent_client_secret', intent.client_secret ?? '');
    target.searchParams.set('redirect_status', intent.status === 'requires_payment_method' ? 'failed' : 'succeeded');
    redirect(response, target.toString());
    return;
  }
  sendHtml(
    response,
    200,
    page(
      'Authentication complete',
      `<p>PaymentIntent ${escapeHtml(intent.id)} now has status ${escapeHtml(intent.status)}.</p>`,
    ),
  );
}
