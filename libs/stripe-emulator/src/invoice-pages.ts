import type { IncomingMessage, ServerResponse } from 'node:http';
import type Stripe from 'stripe';
import { formatAmount } from './currencies';
import { StripeApiError } from './errors';
import { AUTOMATIC_REQUEST } from './events';
import { decodeForm } from './form-decoding';
import { escapeHtml, readBody, redirect, sendHtml } from './http-io';
import { itemsOf } from './invoice-items';
import { payOnHostedPage } from './invoices';
import type { EmulatorState } from './state';

/*
 * The pages behind an invoice's `hosted_invoice_url` and `invoice_pdf`: the invoice with a
 * test payment form, and a one-page PDF of it.
 */

function page(title: string, body: string): string {
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    `<title>${escapeHtml(title)}</title>` +
    '<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}' +
    'table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ddd}' +
    'td.amount,th.amount{text-align:right}button{font-size:1rem;margin-right:.5rem}</style>' +
    `</head><body>${body}</body></html>`
  );
}

function find(state: EmulatorState, invoiceId: string): { invoice: Stripe.Invoice; accountId: string; livemode: boolean } | undefined {
  const found = state.invoices.lookup(invoiceId);
  if (!found || found.object.status === 'draft') {
    return undefined;
  }
  return { invoice: found.object, accountId: found.accountId, livemode: found.livemode };
}

function dueText(invoice: Stripe.Invoice): string {
  return invoice.due_date === null ? 'on receipt' : new Date(invoice.due_date * 1000).toISOString().slice(0, 10);
}

/** Serves `GET /invoices/:id`, the hosted invoice page; open invoices get test payment buttons. */
export function serveHostedInvoice(state: EmulatorState, response: ServerResponse, invoiceId: string): void {
  const found = find(state, invoiceId);
  if (!found) {
    sendHtml(response, 404, page('Not found', `<h1>Not found</h1><p>No finalized invoice ${escapeHtml(invoiceId)}.</p>`));
    return;
  }
  const { invoice } = found;
  const ctx = state.contextFor(found.accountId, found.livemode, AUTOMATIC_REQUEST);
  const lines = ctx ? itemsOf(ctx, invoice.id) : [];
  const rows = lines
    .map(
      (line) =>
        `<tr><td>${escapeHtml(line.description ?? '')}</td><td class="amount">${line.quantity}</td>` +
        `<td class="amount">${escapeHtml(formatAmount(line.amount, line.currency))}</td></tr>`,
    )
    .join('');
  const action = `/invoices/${encodeURIComponent(invoice.id)}`;
  const button = (outcome: string, label: string): string =>
    `<form method="post" action="${escapeHtml(action)}" style="display:inline">` +
    `<input type="hidden" name="outcome" value="${outcome}"><button type="submit">${label}</button></form>`;
  const payable = invoice.status === 'open' || invoice.status === 'uncollectible';
  sendHtml(
    response,
    200,
    page(
      `Invoice ${invoice.number ?? invoice.id}`,
      `<h1>Invoice ${escapeHtml(invoice.number ?? invoice.id)}</h1>` +
        `<p>From ${escapeHtml(invoice.account_name ?? found.accountId)} to ${escapeHtml(invoice.customer_name ?? '')} ` +
        `(${escapeHtml(invoice.customer_email ?? '')}). Status: ${escapeHtml(String(invoice.status))}. Due ${escapeHtml(dueText(invoice))}.</p>` +
        `<table><thead><tr><th>Description</th><th class="amount">Qty</th><th class="amount">Amount</th></tr></thead>` +
        `<tbody>${rows}</tbody></table>` +
        `<p>Amount due: ${escapeHtml(formatAmount(invoice.amount_remaining, invoice.currency))}</p>` +
        (payable ? button('succeeded', 'Pay with a test card') + button('failed', 'Fail the payment') : ''),
    ),
  );
}

/** Handles `POST /invoices/:id` with `outcome=succeeded|failed`, a payment on the hosted page. */
export async function submitHostedInvoicePayment(
  state: EmulatorState,
  request: IncomingMessage,
  response: ServerResponse,
  invoiceId: string,
): Promise<void> {
  const form = decodeForm(await readBody(request));
  const found = find(state, invoiceId);
  const ctx = found ? state.contextFor(found.accountId, found.livemode, AUTOMATIC_REQUEST) : undefined;
  if (!found || !ctx) {
    sendHtml(response, 404, page('Not found', `<p>No finalized invoice ${escapeHtml(invoiceId)}.</p>`));
    return;
  }
  try {
    payOnHostedPage(ctx, found.invoice, form.outcome === 'failed' ? 'failed' : 'succeeded');
  } catch (error) {
    if (error instanceof StripeApiError) {
      sendHtml(response, 409, page('Payment not possible', `<p>${escapeHtml(error.message)}</p>`));
      return;
    }
    throw error;
  }
  redirect(response, `/invoices/${encodeURIComponent(invoiceId)}`);
}

/** Serves `GET /invoices/:id/pdf`: a one-page PDF listing the invoice's number, lines and total. */
export function serveInvoicePdf(state: EmulatorState, response: ServerResponse, invoiceId: string): void {
  const found = find(state, invoiceId);
  if (!found) {
    sendHtml(response, 404, page('Not found', `<p>No finalized invoice ${escapeHtml(invoiceId)}.</p>`));
    return;
  }
  const { invoice } = found;
  const ctx = state.contextFor(found.accountId, found.livemode, AUTOMATIC_REQUEST);
  const lines = ctx ? itemsOf(ctx, invoice.id) : [];
  const text = [
    `Invoice ${invoice.number ?? invoice.id}`,
    `From: ${invoice.account_name ?? found.accountId}`,
    `To: ${invoice.customer_name ?? ''} <${invoice.customer_email ?? ''}>`,
    `Due: ${dueText(invoice)}`,
    '',
    ...lines.map((line) => `${line.quantity} x ${line.description ?? ''}: ${formatAmount(line.amount, line.currency)}`),
    '',
    `Total: ${formatAmount(invoice.total, invoice.currency)}`,
    `Status: ${String(invoice.status)}`,
  ];
  const pdf = renderTextPdf(text);
  response.writeHead(200, {
    'Content-Type': 'application/pdf',
    'Content-Length': pdf.length,
    'Content-Disposition': `inline; filename="${invoice.number ?? invoice.id}.pdf"`,
  });
  response.end(pdf);
}

/** Renders lines of Latin-1 text on one A4 page in Helvetica, as a minimal PDF 1.4 file. */
function renderTextPdf(lines: readonly string[]): Buffer {
  const escapeText = (text: string) => text.replace(/[^\x20-\x7e]/g, '?').replace(/([\\()])/g, '\\$1');
  const content = ['BT', '/F1 11 Tf', '14 TL', '56 780 Td', ...lines.map((line) => `(${escapeText(line)}) '`), 'ET'].join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((object, index) => {
    offsets.push(Buffer.byteLength(body, 'latin1'));
    body += `${index + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xrefOffset = Buffer.byteLength(body, 'latin1');
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  body += offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('');
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xrefOffset}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}
