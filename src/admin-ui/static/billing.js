// Settings → Billing: connect Stripe, edit the keys, verify, disconnect, and
// copy the webhook URL.
//
// Secret keys: the inputs are type=password with autocomplete=off, emptied as
// soon as a form is submitted (before the response, so on success and on error),
// and sent only in a fetch body. Nothing is written to storage, the URL or the
// history.

import { apiRequest } from './api.js';
import { renderSettings } from './billing-view.js';
import { byId, whileBusy } from './dom.js';
import { clearFormErrors, clearSecretInputs, readForm, showFormErrors } from './forms.js';
import { canManageStripe, startShell } from './shell.js';

const SETTINGS_PATH = '/api/v1/settings/billing';
const STRIPE_PATH = `${SETTINGS_PATH}/stripe`;

/** How long the "Copied" message stays, so copying again is announced again. */
const COPIED_MESSAGE_MS = 5000;

const state = { canManage: false, webhookUrl: '', copiedTimer: 0 };

function announce(text) {
  byId('page-status').textContent = text;
}

function show(settings) {
  state.webhookUrl = settings.webhook.url;
  renderSettings(settings, state.canManage);
}

function showLoadError(error) {
  announce('');
  const panel = byId('load-error');
  panel.textContent = `The billing settings could not be loaded: ${error.message}`;
  panel.hidden = false;
}

async function reload() {
  try {
    show(await apiRequest('GET', SETTINGS_PATH));
    byId('load-error').hidden = true;
  } catch (error) {
    showLoadError(error);
  }
}

/**
 * Submit a key form (connect or edit keys) and return the new settings, or
 * null after showing the API's errors beside the fields and the action.
 */
async function submitKeys(form, method, path, submitButton, formError) {
  clearFormErrors(form, formError);
  const keys = readForm(form);
  clearSecretInputs(form);

  try {
    return await whileBusy(submitButton, 'Saving…', () => apiRequest(method, path, { body: keys }));
  } catch (error) {
    const invalid = showFormErrors(form, error, formError);
    (invalid ?? form.querySelector('input[type="password"]')).focus();

    return null;
  }
}

async function connect(event) {
  event.preventDefault();
  const form = byId('connect-form');
  const settings = await submitKeys(form, 'POST', STRIPE_PATH, byId('connect-submit'), byId('connect-error'));
  if (!settings) {
    return;
  }

  form.reset();
  show(settings);
  announce('Stripe is connected.');
  byId('stripe-heading').focus();
}

function openEditKeys() {
  byId('edit-keys-dialog').showModal();
  byId('edit-publishableKey').focus();
}

function resetEditKeys() {
  const form = byId('edit-keys-form');
  form.reset();
  clearSecretInputs(form);
  clearFormErrors(form, byId('edit-keys-error'));
}

async function saveKeys(event) {
  event.preventDefault();
  const form = byId('edit-keys-form');
  const settings = await submitKeys(form, 'PUT', `${STRIPE_PATH}/keys`, byId('edit-keys-submit'), byId('edit-keys-error'));
  if (!settings) {
    return;
  }

  byId('edit-keys-dialog').close();
  show(settings);
  announce('The new Stripe keys are saved.');
}

async function verify(event) {
  const button = event.currentTarget;
  const message = byId('verify-error');
  message.textContent = '';
  announce('');

  try {
    const settings = await whileBusy(button, 'Verifying…', () => apiRequest('POST', `${STRIPE_PATH}/verify`));
    show(settings);
    if (settings.stripe.status === 'connected') {
      announce('Verified: Stripe accepts the stored key.');
    } else {
      message.textContent = settings.stripe.lastError?.message ?? 'Stripe rejects the stored key.';
    }
  } catch (error) {
    message.textContent = error.message;
  }
}

function openDisconnect() {
  byId('disconnect-error').textContent = '';
  byId('disconnect-dialog').showModal();
}

async function disconnect(event) {
  const button = event.currentTarget;
  const message = byId('disconnect-error');
  message.textContent = '';

  try {
    await whileBusy(button, 'Disconnecting…', () => apiRequest('DELETE', STRIPE_PATH));
  } catch (error) {
    message.textContent = error.message;

    return;
  }

  byId('disconnect-dialog').close();
  await reload();
  announce('Stripe is disconnected. Payments stop until you connect Stripe again.');
  byId('stripe-heading').focus();
}

async function copyWebhookUrl() {
  const status = byId('copy-status');
  window.clearTimeout(state.copiedTimer);
  status.textContent = '';

  try {
    await navigator.clipboard.writeText(state.webhookUrl);
    status.textContent = 'Copied';
    state.copiedTimer = window.setTimeout(() => {
      status.textContent = '';
    }, COPIED_MESSAGE_MS);
  } catch {
    // No clipboard access (permission refused, or not a secure context): select the URL for a manual copy.
    const range = document.createRange();
    range.selectNodeContents(byId('webhook-url'));
    window.getSelection()?.removeAllRanges();
    window.getSelection()?.addRange(range);
    status.textContent = 'Copying failed. The URL is selected: press Ctrl+C (⌘C on a Mac) to copy it.';
  }
}

function wireActions() {
  byId('connect-form').addEventListener('submit', connect);
  byId('edit-keys-button').addEventListener('click', openEditKeys);
  byId('edit-keys-form').addEventListener('submit', saveKeys);
  byId('edit-keys-cancel').addEventListener('click', () => byId('edit-keys-dialog').close());
  byId('edit-keys-dialog').addEventListener('close', resetEditKeys);
  byId('verify-button').addEventListener('click', verify);
  byId('disconnect-button').addEventListener('click', openDisconnect);
  byId('disconnect-cancel').addEventListener('click', () => byId('disconnect-dialog').close());
  byId('disconnect-confirm').addEventListener('click', disconnect);
  byId('copy-webhook-url').addEventListener('click', copyWebhookUrl);
}

async function start() {
  wireActions();

  let me;
  try {
    me = await startShell();
  } catch (error) {
    showLoadError(error);

    return;
  }
  if (!me) {
    announce('');

    return;
  }

  state.canManage = canManageStripe(me);
  await reload();
  announce('');
}

void start();
