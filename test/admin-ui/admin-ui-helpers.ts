import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { createTenant, TenantFixture } from '../support/factories';
import { TestApp } from '../support/test-app';

/** Debian's chromium package; CI installs it. Override with CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_PRESENT = existsSync(CHROMIUM_PATH);

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 375, height: 812 };

/** Launch headless Chromium without sandbox, network chatter or first-run pages, so it talks only to 127.0.0.1. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** Create a browser context in en-US and UTC that may read and write the clipboard on the app's origin. */
export async function newAppContext(browser: Browser, t: TestApp): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', timezoneId: 'UTC' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
  context.setDefaultTimeout(15_000);

  return context;
}

export interface TenantUser extends TenantFixture {
  email: string;
  password: string;
  tenantName: string;
}

/** Create a tenant (with an owner bearer token for API calls) and a user of the given role who logs in with a password. */
export async function createTenantUser(t: TestApp, role: 'owner' | 'admin' | 'staff' = 'owner'): Promise<TenantUser> {
  const tenant = await createTenant(t);
  const email = `${role}-${randomBytes(5).toString('hex')}@example.com`;
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  await t.app.get<TenancyAdmin>(TENANCY_ADMIN).createUser({ tenantId: tenant.tenantId, email, password, role });

  return { ...tenant, email, password, tenantName: `Tenant ${tenant.slug}` };
}

/** Fill in and submit the login form on the page the browser is on. */
export async function submitLogin(page: Page, user: TenantUser): Promise<void> {
  await page.getByLabel('Organization').fill(user.slug);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** Log in from /admin/login and wait for Settings → Billing. */
export async function logIn(page: Page, t: TestApp, user: TenantUser): Promise<void> {
  await page.goto(`${t.url}/admin/login`);
  await submitLogin(page, user);
  await page.waitForURL(`${t.url}/admin/settings/billing`);
}

/** Return a key masked as the API masks it: its prefix, "…", then its last four characters. */
export function maskedKey(key: string): string {
  const prefix = /^(pk|sk|rk)_(test|live)_/.exec(key)?.[0];
  if (!prefix) {
    throw new Error('Not a Stripe key: it has no pk_/sk_/rk_ test or live prefix.');
  }

  return `${prefix}…${key.slice(-4)}`;
}

/** Everything of the page a secret must never be found in: its HTML, web storage, URL and navigation history. */
export interface PageTraces {
  html: string;
  storage: string;
  url: string;
  history: string;
}

export async function collectPageTraces(page: Page): Promise<PageTraces> {
  const html = await page.content();
  // Strings, because the test tsconfig has no DOM types; they run in the page.
  const storage = await page.evaluate<string>(
    'JSON.stringify({ localStorage: { ...localStorage }, sessionStorage: { ...sessionStorage }, historyState: history.state })',
  );
  const cdp = await page.context().newCDPSession(page);
  try {
    const { entries } = await cdp.send('Page.getNavigationHistory');

    return { html, storage, url: page.url(), history: JSON.stringify(entries.map((entry) => ({ url: entry.url, title: entry.title }))) };
  } finally {
    await cdp.detach();
  }
}

/** Return the values of every password input on the page, dialogs included. */
export function passwordInputValues(page: Page): Promise<string[]> {
  return page.evaluate<string[]>('[...document.querySelectorAll(\'input[type="password"]\')].map((input) => input.value)');
}

/**
 * Record what would show a broken page: uncaught script errors and Content
 * Security Policy violations (an inline script or handler would be one).
 */
export function recordPageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
      problems.push(`CSP: ${message.text()}`);
    }
  });

  return problems;
}
