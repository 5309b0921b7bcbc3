import { notFound } from '@app/common/errors/domain-error';
import { Public } from '@app/common/roles/roles';
import { Controller, Get, Param, Redirect, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The directory of the pages and assets. Beside this file in both layouts:
 * src/admin-ui/static when the e2e suites run the TypeScript sources, and
 * dist/src/admin-ui/static in the built app, where nest-cli.json's `assets`
 * entry copies it.
 */
export const ADMIN_UI_STATIC_DIR = join(__dirname, 'static');

/** Asset names the static route accepts: flat file names, no path separators. */
const ASSET_NAME = /^[a-z0-9][a-z0-9-]*\.(css|js|svg)$/;

/**
 * Serves the admin pages. The pages and assets are public; the data behind
 * them comes from the API, which checks the session cookie on every call and
 * returns 401, upon which the page sends the browser to /admin/login.
 */
@ApiExcludeController()
@Public()
@Controller('admin')
export class AdminUiController {
  /** Files present at start-up; anything else is 404 without touching the disk. */
  private readonly assets = new Set(readdirSync(ADMIN_UI_STATIC_DIR).filter((name) => ASSET_NAME.test(name)));

  @Get()
  @Redirect('/admin/settings/billing', 302)
  home(): void {}

  @Get('login')
  login(@Res() response: Response): void {
    this.sendPage(response, 'login.html');
  }

  @Get('settings/billing')
  billingSettings(@Res() response: Response): void {
    this.sendPage(response, 'billing.html');
  }

  @Get('payments')
  payments(@Res() response: Response): void {
    this.sendPage(response, 'payments.html');
  }

  @Get('invoices')
  invoices(@Res() response: Response): void {
    this.sendPage(response, 'invoices.html');
  }

  @Get('static/:name')
  asset(@Param('name') name: string, @Res() response: Response): void {
    if (!this.assets.has(name)) {
      throw notFound('file');
    }

    // Revalidated on every load (express sends an ETag), so a deploy shows at once.
    response.sendFile(name, { root: ADMIN_UI_STATIC_DIR, cacheControl: false, headers: { 'Cache-Control': 'no-cache' } });
  }

  /** Pages are never cached, so the back button after logout does not show a signed-in page from the cache. */
  private sendPage(response: Response, name: string): void {
    response.sendFile(name, { root: ADMIN_UI_STATIC_DIR, cacheControl: false, headers: { 'Cache-Control': 'no-store' } });
  }
}
