import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createEmulatorAccount, EmulatorAccount } from '../support/stripe-account';
import { eventually, startTestApp, TestApp } from '../support/test-app';
import {
  CHROMIUM_PATH,
  CHROMIUM_PRESENT,
  collectPageTraces,
  createTenantUser,
  DESKTOP,
  launchChromium,
  logIn,
  maskedKey,
  newAppContext,
  passwordInputValues,
  PHONE,
  recordPageProblems,
  submitLogin,
  TenantUser,
} from './admin-ui-helpers';

const ROOT = join(__dirname, '..', '..');
// The README shows these, so they replace the committed ones only on request (npm run screenshots).
// Otherwise a test run would leave the checkout changed.
const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const SCREENSHOTS = UPDATE_SCREENSHOTS ? join(ROOT, 'docs', 'screenshots') : mkdtempSync(join(tmpdir(), 'billing-screenshots-'));
const SETTINGS_PATH = '/api/v1/settings/billing';
const SECRET_PREFIX_MESSAGE = 'must start with sk_test_, sk_live_, rk_test_ or rk_live_';
const BROWSER_TEST_TIMEOUT_MS = 120_000;

if (!CHROMIUM_PRESENT) {
  console.warn(
    `Skipping the admin UI browser tests: no Chromium at ${CHROMIUM_PATH}. Install Debian's chromium package or set CHROMIUM_PATH.`,
  );
}
const describeInBrowser = CHROMIUM_PRESENT ? describe : describe.skip;

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});

afterAll(async () => {
  await t?.close();
  if (!UPDATE_SCREENSHOTS) {
    rmSync(SCREENSHOTS, { recursive: true, force: true });
  }
});


/** A Stripe error as long as the ones Stripe sends, so the invoice table must wrap it. */
const LONG_STRIPE_ERROR =
  "stripe_keys_invalid: Stripe rejected the stored secret key. Verify the connection or enter new keys in Settings → Billing (attempt 3 of 10, retrying).";
describe('admin UI routes', () => {
  it('redirects /admin to Settings → Billing', async () => {
    const response = await t.http().get('/admin');

    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/admin/settings/billing');
  });

  it.each(['/admin/login', '/admin/settings/billing', '/admin/payments', '/admin/invoices'])('serves %s as an uncached page', async (path) => {
    const response = await t.http().get(path);

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('serves ES modules with a JavaScript type', async () => {
    const response = await t.http().get('/admin/static/billing.js');

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/javascript/);
  });

  it('answers 404 for an unknown asset', async () => {
    const response = await t.http().get('/admin/static/missing.js');

    expect(response.status).toBe(404);
    expect(response.body.code).toBe('not_found');
  });

  it('answers 404 for an HTML page under the asset path', async () => {
    const response = await t.http().get('/admin/static/billing.html');

    expect(response.status).toBe(404);
  });

  it('sends a CSP that allows only same-origin scripts', async () => {
    const response = await t.http().get('/admin/settings/billing');

    expect(response.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('build copies every asset to dist', () => {
    const sources = readdirSync(join(ROOT, 'src', 'admin-ui', 'static')).sort();
    const built = readdirSync(join(ROOT, 'dist', 'src', 'admin-ui', 'static')).sort();

    expect(built).toEqual(sources);
  });
});

describeInBrowser('billing page in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  async function openContext(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const context = await newAppContext(browser, t);
    const page = await context.newPage();
    const problems = recordPageProblems(page);

    return { context, page, problems };
  }

  async function settingsOf(user: TenantUser): Promise<{ stripe: Record<string, unknown>; webhook: { url: string } }> {
    const response = await t.http().get(SETTINGS_PATH).set(user.auth).expect(200);

    return response.body;
  }

  async function rollTestKeys(account: EmulatorAccount): Promise<{ publishableKey: string; secretKey: string }> {
    const response = await request(t.emulator.url).post(`/_emulator/accounts/${account.id}/keys`).send({ mode: 'test' }).expect(201);

    return response.body;
  }

  function badgeText(page: Page): Promise<string | null> {
    return page.locator('#status-badge').textContent();
  }

  /** Wait until the status badge reads exactly `text` ("Connected" is part of "Not connected"). */
  async function waitForBadge(page: Page, text: string): Promise<void> {
    await page.locator('#status-badge', { hasText: new RegExp(`^${text}$`) }).waitFor();
  }

  it(
    'walks connect, copy, rotate, reject and disconnect without keeping a secret',
    async () => {
      const user = await createTenantUser(t);
      const account = await createEmulatorAccount(t);
      const secrets = [account.test.secretKey];
      const { context, page, problems } = await openContext();

      /** After every step: no full secret key in the HTML, storage, URL or history, and no password input contains one. */
      async function expectNoSecretKept(step: string): Promise<void> {
        const traces = await collectPageTraces(page);
        for (const secret of secrets) {
          for (const [where, text] of Object.entries(traces)) {
            expect({ step, where, leaked: text.includes(secret) }).toEqual({ step, where, leaked: false });
          }
        }
        for (const value of await passwordInputValues(page)) {
          expect({ step, passwordInputValue: value }).toEqual({ step, passwordInputValue: '' });
        }
      }

      try {
        await logIn(page, t, user);
        await waitForBadge(page, 'Not connected');
        expect(await badgeText(page)).toBe('Not connected');
        expect(await page.locator('#account-name').textContent()).toBe(`${user.email} · ${user.tenantName}`);
        await page.screenshot({ path: join(SCREENSHOTS, 'billing-not-connected.png'), fullPage: true });
        await expectNoSecretKept('logged in');

        const connectForm = page.locator('#connect-form');
        await connectForm.getByLabel('Publishable key').fill(account.test.publishableKey);
        await connectForm.getByLabel('Secret key').fill(account.test.secretKey);
        await connectForm.getByRole('button', { name: 'Connect Stripe' }).click();
        await waitForBadge(page, 'Connected');
        const connected = await settingsOf(user);
        expect(await badgeText(page)).toBe('Connected');
        expect(await page.locator('#mode-badge').textContent()).toBe('Test mode');
        expect(await page.locator('#detail-secret-key').textContent()).toBe(maskedKey(account.test.secretKey));
        expect(await page.locator('#detail-secret-key').textContent()).toBe(connected.stripe.secretKey);
        expect(await page.locator('#detail-publishable-key').textContent()).toBe(connected.stripe.publishableKey);
        expect(await page.locator('#detail-account').textContent()).toBe(account.id);
        expect(await page.locator('#page-status').textContent()).toBe('Stripe is connected.');
        await expectNoSecretKept('connected');

        await page.screenshot({ path: join(SCREENSHOTS, 'billing-connected.png'), fullPage: true });
        await page.setViewportSize(PHONE);
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
        await page.screenshot({ path: join(SCREENSHOTS, 'billing-connected-phone.png'), fullPage: true });
        await page.setViewportSize(DESKTOP);

        await page.getByRole('button', { name: 'Copy URL' }).click();
        await page.locator('#copy-status', { hasText: 'Copied' }).waitFor();
        expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(connected.webhook.url);
        expect(await page.locator('#webhook-url').textContent()).toBe(connected.webhook.url);
        await expectNoSecretKept('copied the webhook URL');

        const rolled = await rollTestKeys(account);
        secrets.push(rolled.secretKey);
        await page.locator('#edit-keys-button').click();
        const editDialog = page.locator('#edit-keys-dialog');
        await editDialog.getByLabel('Publishable key').fill(rolled.publishableKey);
        await editDialog.getByLabel('Secret key').fill(rolled.secretKey);
        await editDialog.getByRole('button', { name: 'Save keys' }).click();
        await editDialog.waitFor({ state: 'hidden' });
        await page.locator('#detail-secret-key', { hasText: maskedKey(rolled.secretKey) }).waitFor();
        expect(await page.locator('#detail-secret-key').textContent()).toBe((await settingsOf(user)).stripe.secretKey);
        expect(await page.locator('#page-status').textContent()).toBe('The new Stripe keys are saved.');
        await expectNoSecretKept('rotated the keys');

        await page.locator('#edit-keys-button').focus();
        await page.keyboard.press('Enter');
        await editDialog.waitFor({ state: 'visible' });
        await editDialog.getByLabel('Publishable key').fill(rolled.publishableKey);
        await editDialog.getByLabel('Secret key').fill('not-a-secret-key');
        await editDialog.getByRole('button', { name: 'Save keys' }).click();
        const secretError = page.locator('#edit-secretKey-error');
        await secretError.waitFor();
        expect(await secretError.textContent()).toBe(SECRET_PREFIX_MESSAGE);
        expect(await page.locator('#edit-secretKey').getAttribute('aria-describedby')).toContain('edit-secretKey-error');
        expect(await page.locator('#edit-secretKey').getAttribute('aria-invalid')).toBe('true');
        expect(await page.locator('#edit-secretKey').inputValue()).toBe('');
        expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('edit-secretKey');
        expect(await page.locator('#edit-keys-error').textContent()).toBe('The request has invalid fields.');
        await expectNoSecretKept('rejected a malformed key');

        await page.keyboard.press('Escape');
        await editDialog.waitFor({ state: 'hidden' });
        expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('edit-keys-button');
        // The dialog's close event, which empties the form, fires in a task after the dialog hides.
        await page.waitForFunction("document.getElementById('edit-publishableKey').value === ''");
        expect(await page.locator('#edit-publishableKey').inputValue()).toBe('');
        expect(await secretError.textContent()).toBe('');

        await page.locator('#disconnect-button').click();
        const disconnectDialog = page.locator('#disconnect-dialog');
        await disconnectDialog.waitFor({ state: 'visible' });
        expect(await disconnectDialog.textContent()).toContain('Payments stop until you connect Stripe again.');
        await disconnectDialog.getByRole('button', { name: 'Disconnect Stripe' }).click();
        await waitForBadge(page, 'Not connected');
        expect(await disconnectDialog.isVisible()).toBe(false);
        expect((await settingsOf(user)).stripe.status).toBe('not_connected');
        expect(await page.locator('#connect-form').isVisible()).toBe(true);
        await expectNoSecretKept('disconnected');

        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    'connect form shows API errors beside the field and the action',
    async () => {
      const user = await createTenantUser(t);
      const account = await createEmulatorAccount(t);
      const { context, page, problems } = await openContext();
      try {
        await logIn(page, t, user);
        await waitForBadge(page, 'Not connected');

        const connectForm = page.locator('#connect-form');
        await connectForm.getByLabel('Publishable key').fill(account.test.publishableKey);
        await connectForm.getByLabel('Secret key').fill(account.live.secretKey);
        await connectForm.getByRole('button', { name: 'Connect Stripe' }).click();
        await page.locator('#connect-error').filter({ hasText: /\S/ }).waitFor();

        expect(await page.locator('#connect-secretKey-error').textContent()).toBe('must be of the same mode (test or live) as publishableKey');
        expect(await page.locator('#connect-error').textContent()).toBe(
          'The publishable key and the secret key must both be test keys or both be live keys.',
        );
        expect(await page.locator('#connect-secretKey').inputValue()).toBe('');
        expect(await page.locator('#connect-publishableKey').getAttribute('aria-invalid')).toBeNull();
        expect(await page.content()).not.toContain(account.live.secretKey);
        expect(await badgeText(page)).toBe('Not connected');
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    'shows the error status with its reason and the ways out',
    async () => {
      const user = await createTenantUser(t);
      const account = await createEmulatorAccount(t);
      await t.http().post(`${SETTINGS_PATH}/stripe`).set(user.auth).send(account.test).expect(201);
      await request(t.emulator.url).post('/_emulator/keys/revoke').send({ key: account.test.secretKey }).expect(201);
      const { context, page, problems } = await openContext();
      try {
        await logIn(page, t, user);
        await waitForBadge(page, 'Connected');

        await page.getByRole('button', { name: 'Verify' }).click();
        await waitForBadge(page, 'Error');
        const settings = await settingsOf(user);
        const lastError = settings.stripe.lastError as { message: string };

        expect(await badgeText(page)).toBe('Error');
        expect(await page.locator('#error-message').textContent()).toBe(lastError.message);
        expect(await page.locator('#error-panel').textContent()).toContain('choose Edit keys');
        expect(await page.locator('#verify-error').textContent()).toBe(lastError.message);
        expect(await page.getByRole('button', { name: 'Edit keys' }).isVisible()).toBe(true);
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    'shows staff the settings without the controls that change them',
    async () => {
      const user = await createTenantUser(t, 'staff');
      const { context, page } = await openContext();
      try {
        await logIn(page, t, user);
        await waitForBadge(page, 'Not connected');

        expect(await page.locator('#connect-form').isVisible()).toBe(false);
        expect(await page.locator('#read-only-note').isVisible()).toBe(true);
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    'sends a browser without a session to login and back',
    async () => {
      const user = await createTenantUser(t);
      const { context, page } = await openContext();
      try {
        await page.goto(`${t.url}/admin/payments`);
        await page.waitForURL(`${t.url}/admin/login?next=%2Fadmin%2Fpayments`);
        await submitLogin(page, user);
        await page.waitForURL(`${t.url}/admin/payments`);

        expect(new URL(page.url()).pathname).toBe('/admin/payments');
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    'sends the browser to login when an API call answers 401',
    async () => {
      const user = await createTenantUser(t);
      const { context, page } = await openContext();
      try {
        await logIn(page, t, user);
        await page.goto(`${t.url}/admin/invoices`);
        await page.locator('#page-status', { hasText: 'Showing' }).waitFor();
        await context.clearCookies();
        await page.getByLabel('Status').selectOption('paid');
        await page.waitForURL(`${t.url}/admin/login?next=%2Fadmin%2Finvoices`);

        expect(new URL(page.url()).pathname).toBe('/admin/login');
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    'logs out and ends the session',
    async () => {
      const user = await createTenantUser(t);
      const { context, page } = await openContext();
      try {
        await logIn(page, t, user);
        await page.getByRole('button', { name: 'Log out' }).click();
        await page.waitForURL(`${t.url}/admin/login`);
        const me = await page.evaluate<number>("fetch('/api/v1/auth/me').then((response) => response.status)");

        expect(me).toBe(401);
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    'login shows the API error beside the action',
    async () => {
      const user = await createTenantUser(t);
      const { context, page } = await openContext();
      try {
        await page.goto(`${t.url}/admin/login`);
        await submitLogin(page, { ...user, password: 'wrong-password-123' });
        await page.locator('#login-error').filter({ hasText: /\S/ }).waitFor();

        expect(new URL(page.url()).pathname).toBe('/admin/login');
        expect(await page.getByLabel('Password').inputValue()).toBe('');
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    'lists payments and invoices with formatted amounts and links',
    async () => {
      const user = await createTenantUser(t);
      const account = await createEmulatorAccount(t);
      await t.http().post(`${SETTINGS_PATH}/stripe`).set(user.auth).send(account.test).expect(201);
      const paid = await t
        .http()
        .post('/api/v1/payments')
        .set(user.auth)
        .send({ amount: 8900, currency: 'usd', paymentMethod: 'pm_card_visa', description: 'CPR/AED class, 2 seats' })
        .expect(201);
      await t.http().post('/api/v1/payments').set(user.auth).send({ amount: 500, currency: 'jpy', paymentMethod: 'pm_card_visa' }).expect(201);
      await t.http().post('/api/v1/payments').set(user.auth).send({ amount: 2000, currency: 'usd', paymentMethod: 'pm_card_chargeDeclined' }).expect(402);
      const invoice = await eventually(async () => {
        const response = await t.http().get('/api/v1/invoices').set(user.auth).expect(200);
        const found = (response.body.data as { id: string; paymentId: string | null; number: string | null; status: string }[]).find(
          (item) => item.paymentId === paid.body.id && item.number !== null,
        );

        return found;
      }, 30_000);
      const payment = (await t.http().get(`/api/v1/payments/${paid.body.id}`).set(user.auth).expect(200)).body as { receiptUrl: string | null };
      const { context, page, problems } = await openContext();
      try {
        await logIn(page, t, user);

        await page.goto(`${t.url}/admin/payments`);
        await page.locator('#page-status', { hasText: 'Showing 3 payments.' }).waitFor();
        const paidRow = page.locator(`tr[data-payment-id="${paid.body.id}"]`);
        const rowsText = await page.locator('#list-body').textContent();
        expect(await paidRow.textContent()).toContain('$89.00');
        expect(await paidRow.textContent()).toContain('Succeeded');
        expect(await paidRow.textContent()).toContain('CPR/AED class, 2 seats');
        expect(rowsText).toContain('¥500');
        expect(rowsText).toContain('Failed');
        expect(rowsText).toContain('card_declined');
        if (payment.receiptUrl !== null) {
          expect(await paidRow.getByRole('link', { name: /Receipt/ }).getAttribute('href')).toBe(payment.receiptUrl);
        }
        await page.setViewportSize(PHONE);
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
        await page.setViewportSize(DESKTOP);
        await page.screenshot({ path: join(SCREENSHOTS, 'payments.png'), fullPage: true });

        await page.goto(`${t.url}/admin/invoices`);
        await page.locator('#page-status', { hasText: 'Showing' }).waitFor();
        const invoiceRow = page.locator('#list-body tr', { hasText: invoice.number ?? '' });
        expect(await invoiceRow.textContent()).toContain('$89.00');
        expect(await invoiceRow.textContent()).toContain(invoice.status === 'paid' ? 'Paid' : 'Open');
        expect(await invoiceRow.textContent()).not.toContain('Stripe error');
        await page.screenshot({ path: join(SCREENSHOTS, 'invoices.png'), fullPage: true });

        await t.app
          .get(DataSource)
          .query(
            `UPDATE invoices SET stripe_error_job = 'send', stripe_error_code = 'stripe_keys_invalid', stripe_error_message = $2, stripe_error_at = now() WHERE id = $1`,
            [invoice.id, LONG_STRIPE_ERROR],
          );
        await page.reload();
        await page.locator('#page-status', { hasText: 'Showing' }).waitFor();
        expect(await invoiceRow.textContent()).toContain('Stripe error');
        expect(await invoiceRow.textContent()).toContain(LONG_STRIPE_ERROR);
        // A long message wraps inside its cell, so the table fits the card at desktop width.
        expect(await page.evaluate<number>(`document.querySelector('.table-wrap').scrollWidth - document.querySelector('.table-wrap').clientWidth`)).toBeLessThanOrEqual(0);
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );

  it(
    'formats money in the currency minor unit',
    async () => {
      const { context, page } = await openContext();
      try {
        await page.goto(`${t.url}/admin/login`);
        // A string, so the test transpiler leaves the browser's dynamic import() alone.
        const formatted = await page.evaluate<Record<'usd' | 'jpy' | 'kwd' | 'kwdExpected' | 'huf' | 'hufExpected', string>>(`(async () => {
          const { formatMoney } = await import('/admin/static/format.js');
          return {
            usd: formatMoney(2000, 'usd', 'en-US'),
            jpy: formatMoney(500, 'jpy', 'en-US'),
            kwd: formatMoney(1234, 'kwd', 'en-US'),
            kwdExpected: new Intl.NumberFormat('en-US', { style: 'currency', currency: 'KWD' }).format(1.234),
            huf: formatMoney(1750000, 'huf', 'en-US'),
            hufExpected: new Intl.NumberFormat('en-US', { style: 'currency', currency: 'HUF' }).format(17500),
          };
        })()`);

        expect(formatted.usd).toBe('$20.00');
        expect(formatted.jpy).toBe('¥500');
        expect(formatted.kwd).toBe(formatted.kwdExpected);
        expect(formatted.huf).toBe(formatted.hufExpected);
      } finally {
        await context.close();
      }
    },
    BROWSER_TEST_TIMEOUT_MS,
  );
});
