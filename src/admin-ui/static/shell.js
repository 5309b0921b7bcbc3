// The part every signed-in page shares: who is signed in, and logging out.

import { apiRequest, LOGIN_PATH } from './api.js';
import { byId, h } from './dom.js';

/**
 * Load the signed-in principal, show it in the top bar and wire the logout
 * button. Returns the `me` body, or null when the page cannot be used (a
 * platform operator, who has no tenant). Without a session the API returns
 * 401 and the browser goes to the login page.
 */
export async function startShell() {
  byId('logout-button').addEventListener('click', logOut);

  const me = await apiRequest('GET', '/api/v1/auth/me');
  if (me.tenant === null) {
    showOperatorNotice();

    return null;
  }

  const accountLabel = me.user ? `${me.user.email} · ${me.tenant.name}` : me.tenant.name;
  byId('account-name').textContent = accountLabel;

  return me;
}

/** Return whether the role may change the Stripe connection: owners and admins may, staff only read. */
export function canManageStripe(me) {
  return me.role === 'owner' || me.role === 'admin';
}

async function logOut(event) {
  const button = event.currentTarget;
  const message = byId('logout-error');
  message.textContent = '';
  button.disabled = true;
  try {
    await apiRequest('POST', '/api/v1/auth/logout', { redirectOn401: false });
    window.location.replace(LOGIN_PATH);
  } catch (error) {
    if (error.status === 401) {
      window.location.replace(LOGIN_PATH);

      return;
    }

    message.textContent = error.message;
    button.disabled = false;
  }
}

function showOperatorNotice() {
  const main = byId('main');
  main.replaceChildren(
    h('h1', { text: 'Tenant admin pages' }),
    h('p', {
      className: 'callout callout-info',
      text: 'These pages are for the users of a tenant. Platform operators use the /api/v1/ops routes and the queue dashboard at /ops/queues.',
    }),
  );
}
