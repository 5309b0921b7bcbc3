import { rolesFor } from '@app/common/app-roles';
import type { LogDestination } from '@app/common/logging/log-redaction';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import express from 'express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { AppConfig } from './config/app-config';
import { deferredJsonParser } from './http/json-body';
import { setUpOpenApi } from './http/openapi';
import { repairPathEscapes } from './http/path-escapes';
import { secretLeakGuard } from './http/secret-leak.guard';
import { WebhookIntakeRouteOptions, installWebhookIntakeRoute } from './http/webhook-intake.route';
import { WebhookIntakeService } from './modules/webhooks/webhook-intake.service';
import { webhookIntakeMetrics } from '@app/common/metrics/webhook-intake.middleware';

/** Stripe's largest event is far below this (1 MiB); a larger body gets 413. */
export const WEBHOOK_BODY_LIMIT_BYTES = 1024 * 1024;
const API_BODY_LIMIT = '256kb';

export interface CreateAppOptions {
  /** Where log lines go instead of standard output, such as a test's in-memory capture. */
  logDestination?: LogDestination;
}

/**
 * Build the application for the configured role, ready to listen. Shared by
 * main.ts and the e2e suites so tests run exactly what production runs.
 */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<NestExpressApplication> {
  const roles = rolesFor(config.role);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, roles, options.logDestination), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  // Exit through process.exit once the hooks have run, so pino flushes the last lines on `exit`;
  // Nest's default re-raises the signal, which ends the process without that event.
  app.enableShutdownHooks([], { useProcessExit: true });
  app.set('trust proxy', 'loopback');
  app.disable('x-powered-by');

  // First, so that it wraps every response any later handler sends.
  app.use(secretLeakGuard());
  app.use(repairPathEscapes());

  // Webhooks are verified over the exact bytes Stripe sent, so that route gets
  // the raw body and every other route the parsed JSON.
  app.use('/webhooks/stripe', webhookIntakeMetrics());
  app.use('/webhooks/stripe', express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT_BYTES }));
  app.use(deferredJsonParser(API_BODY_LIMIT));
  app.use(cookieParser());
  const securityHeaders = helmet(helmetOptions(config));
  app.use(securityHeaders);

  if (roles.api) {
    setUpOpenApi(app);
    // Deliveries to the canonical webhook URL skip the Express pipeline above; see the route's notes.
    installWebhookIntakeRoute(app.getHttpServer(), {
      intake: app.get(WebhookIntakeService),
      bodyLimitBytes: WEBHOOK_BODY_LIMIT_BYTES,
      etag: (app.getHttpAdapter().getInstance() as express.Express).get('etag fn') as WebhookIntakeRouteOptions['etag'],
      helmet: securityHeaders as WebhookIntakeRouteOptions['helmet'],
    });
  }

  return app;
}

/**
 * Strict headers, but HSTS and the upgrade of insecure requests only when the
 * service is published over HTTPS: over plain HTTP they would break every
 * host name other than localhost.
 */
function helmetOptions(config: AppConfig): Parameters<typeof helmet>[0] {
  const https = config.publicBaseUrl.startsWith('https:');

  return {
    strictTransportSecurity: https,
    contentSecurityPolicy: {
      directives: {
        'script-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'upgrade-insecure-requests': https ? [] : null,
      },
    },
  };
}
