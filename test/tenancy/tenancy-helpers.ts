import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { TestApp } from '../support/test-app';

export const LOGIN_PATH = '/api/v1/auth/login';
export const LOGOUT_PATH = '/api/v1/auth/logout';
export const ME_PATH = '/api/v1/auth/me';
export const SESSION_COOKIE = 'billing_session';
export const CSRF = { 'X-Requested-With': 'fetch' };
export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}@example.com`;
}

export function strongPassword(): string {
  return `pw-${randomBytes(12).toString('base64url')}`;
}

/** Creates a tenant user through TENANCY_ADMIN and returns it with its password. */
export async function createUser(
  t: TestApp,
  tenantId: string,
  role: 'owner' | 'admin' | 'staff' = 'owner',
): Promise<{ id: string; email: string; password: string }> {
  const email = uniqueEmail(role);
  const password = strongPassword();
  const user = await t.app.get<TenancyAdmin>(TENANCY_ADMIN).createUser({ tenantId, email, password, role });

  return { id: user.id, email, password };
}

export async function createOperatorUser(t: TestApp): Promise<{ id: string; email: string; password: string }> {
  const email = uniqueEmail('operator');
  const password = strongPassword();
  const user = await t.app.get<TenancyAdmin>(TENANCY_ADMIN).createUser({ tenantId: null, email, password, role: 'operator' });

  return { id: user.id, email, password };
}

/** Returns the `name=value` pair of the session cookie a response sets, ready for a Cookie header. */
export function sessionCookieOf(response: request.Response): string {
  const header = setCookieHeader(response);
  if (!header) {
    throw new Error(`No ${SESSION_COOKIE} cookie in the response (status ${response.status})`);
  }

  return header.split(';')[0];
}

export function setCookieHeader(response: request.Response): string | undefined {
  const raw = response.headers['set-cookie'] as unknown;
  let cookies: string[] = [];
  if (Array.isArray(raw)) {
    cookies = raw as string[];
  } else if (typeof raw === 'string') {
    cookies = [raw];
  }

  return cookies.find((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`));
}

/** Log in through HTTP and return the Cookie header value. */
export async function loginCookie(t: TestApp, body: { tenant?: string; email: string; password: string }): Promise<string> {
  const response = await t.http().post(LOGIN_PATH).send(body);
  if (response.status !== 200) {
    throw new Error(`Login failed with ${response.status}: ${response.text}`);
  }

  return sessionCookieOf(response);
}
