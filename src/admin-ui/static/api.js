// Calls to the billing API with the session cookie. Every request carries
// `X-Requested-With: fetch`, which the API requires on cookie-authenticated
// writes as its CSRF check.

export const LOGIN_PATH = '/admin/login';
export const HOME_PATH = '/admin/settings/billing';

/** Paths of admin pages that the login page may send the browser back to. */
const RETURN_PATH = /^\/admin(\/[a-z0-9-]+)*$/;

/** An error response of the API, read from its problem details body. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, or 0 when the service could not be reached
   * @param {{ code?: string, detail?: string, title?: string, errors?: { field: string, message: string }[] }} problem
   */
  constructor(status, problem) {
    super(problem.detail || problem.title || `The request failed with HTTP status ${status}.`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code ?? null;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

/** Return whether `path` is an admin page the login page may return to. */
export function isReturnPath(path) {
  return typeof path === 'string' && RETURN_PATH.test(path) && path !== LOGIN_PATH;
}

/** Send the browser to the login page, remembering the current page to come back to. */
export function redirectToLogin() {
  const currentPath = window.location.pathname;
  const target = isReturnPath(currentPath) ? `${LOGIN_PATH}?next=${encodeURIComponent(currentPath)}` : LOGIN_PATH;
  window.location.assign(target);
}

/**
 * Send a request to the API and return the parsed JSON body (null for 204).
 * Throws ApiError for every error response. A 401 also sends the browser to the
 * login page unless `redirectOn401` is false (the login form itself).
 *
 * @param {'GET' | 'POST' | 'PUT' | 'DELETE'} method
 * @param {string} path
 * @param {{ body?: unknown, redirectOn401?: boolean }} [options]
 */
export async function apiRequest(method, path, options = {}) {
  const { body, redirectOn401 = true } = options;
  const headers = { Accept: 'application/json', 'X-Requested-With': 'fetch' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { detail: 'The billing service could not be reached. Check your connection and try again.' });
  }

  if (response.status === 401 && redirectOn401) {
    redirectToLogin();
  }

  if (response.status === 204) {
    return null;
  }

  const payload = await readJson(response);
  if (!response.ok) {
    throw new ApiError(response.status, payload ?? {});
  }

  return payload;
}

async function readJson(response) {
  const type = response.headers.get('content-type') ?? '';
  if (!/^application\/(problem\+)?json/.test(type)) {
    return null;
  }

  try {
    return await response.json();
  } catch {
    return null;
  }
}
