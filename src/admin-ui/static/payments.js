// Payments: the tenant's card payments, read-only.

import { h, timeElement } from './dom.js';
import { describeStatus, formatDateTime, formatMoney, PAYMENT_STATUS } from './format.js';
import { cell, externalLink, none, startListPage, statusBadge, testModeBadge } from './lists.js';

function failureText(payment) {
  if (payment.status !== 'failed' || !payment.failureCode) {
    return null;
  }

  const reason = payment.declineCode ? `${payment.failureCode} (${payment.declineCode})` : payment.failureCode;

  return h('span', { className: 'subtext', text: `Failure: ${reason}` });
}

function renderPayment(payment) {
  const amount = formatMoney(payment.amount, payment.currency);
  const status = h('div', { className: 'status-cell' }, statusBadge(describeStatus(PAYMENT_STATUS, payment.status)));
  if (!payment.livemode) {
    status.append(testModeBadge());
  }

  const description = [
    payment.description ? h('span', { text: payment.description }) : none('No description'),
    payment.receiptEmail ? h('span', { className: 'subtext', text: payment.receiptEmail }) : null,
    failureText(payment),
  ].filter(Boolean);

  const receipt = externalLink(payment.receiptUrl, 'Receipt', `for the payment of ${amount}`);

  return h(
    'tr',
    { 'data-payment-id': payment.id },
    cell(timeElement(payment.createdAt, formatDateTime(payment.createdAt))),
    cell(description, 'wrap'),
    cell(status),
    cell(amount, 'numeric'),
    cell(payment.amountRefunded > 0 ? formatMoney(payment.amountRefunded, payment.currency) : none(), 'numeric'),
    cell(receipt ? h('div', { className: 'links' }, receipt) : none()),
  );
}

void startListPage({ apiPath: '/api/v1/payments', noun: ['payment', 'payments'], renderRow: renderPayment });
