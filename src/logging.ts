import { redactSecrets } from '@app/common/keys/stripe-keys';
import type { Params } from 'nestjs-pino';
import { ClsServiceManager } from 'nestjs-cls';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Fields that may carry a secret, removed from every log line whatever their value. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'res.headers["set-cookie"]',
  '*.secretKey',
  '*.publishableKey',
  '*.secret',
  '*.password',
  '*.token',
  '*.apiKey',
  '*.signingSecret',
];

/** Returns the caller's X-Request-Id when it is a plain token, else a new UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const header = request.headers['x-request-id'];

  return typeof header === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(header) ? header : randomUUID();
}

/**
 * pino through nestjs-pino: JSON lines with a request id and, once the guard
 * knows it, the tenant. Secrets are removed by field and, as a second net, by
 * pattern in every message.
 */
export function loggerParams(level: string): Params {
  return {
    pinoHttp: {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      genReqId: requestIdOf,
      customProps: () => {
        const cls = ClsServiceManager.getClsService();
        const tenantId = cls.isActive() ? cls.get<string | undefined>('tenantId') : undefined;

        return tenantId ? { tenantId } : {};
      },
      // Health probes and metrics scrapes would drown the request log.
      autoLogging: { ignore: (request) => /^\/(health|metrics)/.test(request.url ?? '') },
      serializers: {
        req: (request: { id: unknown; method: string; url: string }) => ({ id: request.id, method: request.method, url: redactSecrets(request.url) }),
        // The status alone: response headers would repeat on every line and may carry cookies.
        res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
      },
      formatters: {
        log: (object: Record<string, unknown>) => {
          if (typeof object.msg === 'string') {
            object.msg = redactSecrets(object.msg);
          }

          return object;
        },
      },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<typeof method>);
        },
      },
    },
  };
}
