import type { CookieOptions } from 'express';
import { SESSION_LIFETIME_SECONDS } from './auth.service';

export const SESSION_COOKIE = 'billing_session';

/** HttpOnly, SameSite=Strict, Path=/, and Secure when the service is served over https. */
export function sessionCookieOptions(publicBaseUrl: string): CookieOptions {
  return {
    httpOnly: true,
    sameSite: 'strict',
    secure: publicBaseUrl.startsWith('https:'),
    path: '/',
    maxAge: SESSION_LIFETIME_SECONDS * 1000,
  };
}
