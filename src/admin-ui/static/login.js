// The login page: POST /api/v1/auth/login sets the session cookie, then the
// browser goes on to the page it came from (the `next` query parameter) or to
// Settings → Billing.

import { apiRequest, HOME_PATH, isReturnPath } from './api.js';
import { byId, whileBusy } from './dom.js';
import { clearFormErrors, clearSecretInputs, readForm, showFormErrors } from './forms.js';

const form = byId('login-form');
const formError = byId('login-error');

function destination() {
  const next = new URLSearchParams(window.location.search).get('next');

  return isReturnPath(next) ? next : HOME_PATH;
}

async function logIn(event) {
  event.preventDefault();
  clearFormErrors(form, formError);
  const values = readForm(form);
  clearSecretInputs(form);

  try {
    await whileBusy(byId('login-submit'), 'Logging in…', () =>
      apiRequest('POST', '/api/v1/auth/login', { body: values, redirectOn401: false }),
    );
  } catch (error) {
    const invalid = showFormErrors(form, error, formError);
    (invalid ?? byId('login-password')).focus();

    return;
  }

  byId('login-status').textContent = 'Logged in. Opening the admin pages…';
  window.location.replace(destination());
}

/** Skip the form when the browser still has a valid session. */
async function skipWhenSignedIn() {
  try {
    const me = await apiRequest('GET', '/api/v1/auth/me', { redirectOn401: false });
    if (me.tenant !== null) {
      window.location.replace(destination());
    }
  } catch {
    // No session (401) or the service is unreachable, so the form stays.
  }
}

form.addEventListener('submit', logIn);
void skipWhenSignedIn();
