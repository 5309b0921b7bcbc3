import { redactSecrets } from '@app/common/keys/stripe-keys';
import { LOG_REDACT_PATHS, LogDestination, REDACTED, redactingDestination } from '@app/common/logging/log-redaction';
import pino from 'pino';
import type { Params } from 'nestjs-pino';
import type { Options } from 'pino-http';
import { ClsServiceManager } from 'nestjs-cls';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Returns the caller's X-Request-Id when it is a plain token, else a new UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const header = request.headers['x-request-id'];

  return typeof header === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(header) ? header : randomUUID();
}

/**
 * pino through nestjs-pino: JSON lines with a request id and, once the guard
 * knows it, the tenant. Secrets are removed by field and then, as a second
 * net, by pattern in every finished line (messages, errors and their stacks
 * included). Lines go to standard output unless another destination is given.
 */
export function loggerParams(level: string, destination: LogDestination = pino.destination(1)): Params {
  const options: Options = {
    level,
    redact: { paths: [...LOG_REDACT_PATHS], censor: REDACTED },
    genReqId: requestIdOf,
    customProps: () => {
      const cls = ClsServiceManager.getClsService();
      const tenantId = cls.isActive() ? cls.get<string | undefined>('tenantId') : undefined;

      return tenantId ? { tenantId } : {};
    },
    // Health probes and metrics scrapes would drown the request log.
    autoLogging: { ignore: (request) => /^\/(health|metrics)/.test(request.url ?? '') },
    serializers: {
      // Lenient about the shape, because a `req` field logged by hand need not be an HTTP request.
      req: (request: { id?: unknown; method?: unknown; url?: unknown }) => ({
        id: request.id,
        method: request.method,
        url: typeof request.url === 'string' ? redactSecrets(request.url) : undefined,
      }),
      // The status alone: response headers would repeat on every line and may carry cookies.
      res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
    },
  };

  return { pinoHttp: [options, redactingDestination(destination) as pino.DestinationStream] };
}

/**
 * Creates a plain pino logger with the same redaction, for lines written
 * before Nest and nestjs-pino have started, such as a failed start-up check.
 */
export function startupLogger(level: string, destination: LogDestination = pino.destination(1)): pino.Logger {
  return pino({ level, redact: { paths: [...LOG_REDACT_PATHS], censor: REDACTED } }, redactingDestination(destination) as pino.DestinationStream);
}
