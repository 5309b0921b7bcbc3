// Invoices: the tenant's invoices, read-only, with links to Stripe's hosted
// invoice page and PDF once Stripe has them.

import { badge, h, timeElement } from './dom.js';
import { describeStatus, formatCalendarDate, formatDateTime, formatMoney, INVOICE_STATUS } from './format.js';
import { cell, externalLink, none, startListPage, statusBadge, testModeBadge } from './lists.js';

function renderInvoice(invoice) {
  const label = invoice.number ?? 'draft';
  const status = h('div', { className: 'status-cell' }, statusBadge(describeStatus(INVOICE_STATUS, invoice.status)));
  if (invoice.overdue) {
    status.append(badge('Overdue', 'danger', 'clock'));
  }
  if (!invoice.livemode) {
    status.append(testModeBadge());
  }
  if (invoice.stripeError) {
    // The job retries once a day, so the admin needs the reason to fix the cause sooner.
    status.append(badge('Stripe error', 'danger', 'alert'), h('span', { className: 'subtext', text: invoice.stripeError.message }));
  }

  const links = [
    externalLink(invoice.hostedInvoiceUrl, 'Invoice page', `of invoice ${label}`),
    externalLink(invoice.pdfUrl, 'PDF', `of invoice ${label}`),
  ].filter(Boolean);

  return h(
    'tr',
    { 'data-invoice-id': invoice.id },
    cell(invoice.number ? h('span', { className: 'mono', text: invoice.number }) : none('Draft (no number yet)')),
    // A Stripe error message can be long, so this cell wraps instead of widening the table.
    cell(status, 'wrap'),
    cell(formatMoney(invoice.total, invoice.currency), 'numeric'),
    cell(formatMoney(invoice.amountPaid, invoice.currency), 'numeric'),
    cell(invoice.dueDate ? formatCalendarDate(invoice.dueDate) : none()),
    cell(invoice.issuedAt ? timeElement(invoice.issuedAt, formatDateTime(invoice.issuedAt)) : none()),
    cell(links.length > 0 ? h('div', { className: 'links' }, ...links) : none()),
  );
}

void startListPage({ apiPath: '/api/v1/invoices', noun: ['invoice', 'invoices'], renderRow: renderInvoice });
