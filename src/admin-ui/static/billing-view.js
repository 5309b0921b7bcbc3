// Rendering of the Settings → Billing body (GET /api/v1/settings/billing)
// into the page. Keys are shown exactly as the API masks them.

import { badge, byId, h, timeElement } from './dom.js';
import { formatDateTime } from './format.js';

const STATUS_BADGES = {
  connected: { label: 'Connected', tone: 'success', icon: 'check' },
  not_connected: { label: 'Not connected', tone: 'neutral', icon: 'circle' },
  error: { label: 'Error', tone: 'danger', icon: 'alert' },
};

const REGISTRATION_TEXT = {
  automatic: 'Automatic: the service registered this endpoint in your Stripe account.',
  manual: 'Manual: add this URL as an endpoint in the Stripe Dashboard yourself.',
};

const SIGNING_SECRET_TEXT = {
  endpoint: "Endpoint: events are verified with this endpoint's own signing secret.",
  platform: "Platform: events are verified with the platform's signing secret only.",
};

/**
 * Show the settings. `canManage` is false for staff, who see the settings
 * without the forms and buttons that change them.
 */
export function renderSettings(settings, canManage) {
  const { stripe, webhook } = settings;
  const holdsKeys = stripe.status !== 'not_connected';

  byId('stripe-card').hidden = false;
  byId('webhook-card').hidden = false;
  renderStatus(stripe);
  renderError(stripe);
  renderDetails(stripe, holdsKeys);

  byId('connection-actions').hidden = !(holdsKeys && canManage);
  byId('connect-form').hidden = holdsKeys || !canManage;
  byId('live-mode-note').hidden = settings.liveModeAllowed;
  byId('read-only-note').hidden = canManage;

  renderWebhook(webhook);
}

function renderStatus(stripe) {
  const status = STATUS_BADGES[stripe.status] ?? { label: stripe.status, tone: 'neutral', icon: 'circle' };
  byId('status-badge').replaceChildren(badge(status.label, status.tone, status.icon));

  const modeBadge = byId('mode-badge');
  if (stripe.mode === 'test') {
    modeBadge.replaceChildren(badge('Test mode', 'warning', 'flask'));
  } else if (stripe.mode === 'live') {
    modeBadge.replaceChildren(badge('Live mode', 'info', 'check'));
  } else {
    modeBadge.replaceChildren();
  }
  byId('test-mode-note').hidden = stripe.mode !== 'test';
}

function renderError(stripe) {
  const panel = byId('error-panel');
  if (stripe.status !== 'error') {
    panel.hidden = true;

    return;
  }

  const lastError = stripe.lastError;
  byId('error-message').textContent = lastError?.message || 'Stripe rejected the stored secret key.';
  byId('error-meta').replaceChildren(
    ...(lastError ? [`${lastError.code} · since `, timeElement(lastError.at, formatDateTime(lastError.at))] : []),
  );
  panel.hidden = false;
}

function renderDetails(stripe, holdsKeys) {
  byId('connection-details').hidden = !holdsKeys;
  if (!holdsKeys) {
    return;
  }

  byId('detail-mode').textContent = stripe.mode === 'live' ? 'Live' : 'Test';
  byId('detail-account').textContent = stripe.accountId ?? '—';
  byId('detail-publishable-key').textContent = stripe.publishableKey ?? '—';
  byId('detail-secret-key').textContent = stripe.secretKey ?? '—';
  setTime(byId('detail-connected-at'), stripe.connectedAt, '—');
  setTime(byId('detail-verified-at'), stripe.lastVerifiedAt, 'Never');
}

function renderWebhook(webhook) {
  byId('webhook-url').textContent = webhook.url;
  byId('webhook-registration').textContent =
    REGISTRATION_TEXT[webhook.registration] ?? 'Set up when Stripe is connected: the service registers the endpoint in your Stripe account when it can.';
  byId('webhook-signing-secret').textContent = SIGNING_SECRET_TEXT[webhook.signingSecret] ?? webhook.signingSecret;
  setTime(byId('webhook-last-event'), webhook.lastEventAt, 'No event yet');
  byId('manual-webhook-hint').hidden = webhook.registration !== 'manual';
}

function setTime(element, iso, fallback) {
  element.replaceChildren(iso ? timeElement(iso, formatDateTime(iso)) : h('span', { className: 'muted', text: fallback }));
}
