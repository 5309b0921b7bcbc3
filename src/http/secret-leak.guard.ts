import { Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { SECRET_PATTERNS } from '@app/common/keys/stripe-keys';

const logger = new Logger('SecretLeakGuard');

/** The body sent in place of a response that contained a secret, with status 500. */
export const WITHHELD_RESPONSE_BODY = JSON.stringify({
  type: 'about:blank',
  title: 'Internal error',
  status: 500,
  code: 'internal_error',
  detail: 'The response was withheld because it contained a secret. The incident has been logged.',
});

/**
 * Build the last check before a response leaves the process. It buffers every
 * body the Express app sends (error bodies, static pages, Swagger and Bull
 * Board included) and searches it for a full secret or restricted key or a
 * webhook signing secret. A match fails closed with a 500, and the log line
 * names the route and the kind of secret, never the value.
 */
export function secretLeakGuard(): RequestHandler {
  return (request: Request, response: Response, next: NextFunction) => {
    const chunks: Buffer[] = [];
    const originalEnd = response.end.bind(response) as (...args: unknown[]) => Response;

    response.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
      if (chunk !== undefined && chunk !== null) {
        chunks.push(toBuffer(chunk, encoding));
      }
      if (typeof encoding === 'function') {
        encoding();
      } else if (typeof callback === 'function') {
        callback();
      }

      return true;
    }) as Response['write'];

    response.end = ((chunk?: unknown, encoding?: unknown, callback?: unknown) => {
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
        chunks.push(toBuffer(chunk, encoding));
      }
      const done = [chunk, encoding, callback].find((argument) => typeof argument === 'function') as (() => void) | undefined;
      const body = Buffer.concat(chunks);
      const leaked = findSecretKind(body);
      if (leaked === null) {
        if (!response.headersSent) {
          response.setHeader('Content-Length', body.length);
        }

        return originalEnd(body, done);
      }

      logger.error({ method: request.method, path: request.path, status: response.statusCode, secretKind: leaked }, 'Response withheld: it contained a secret');
      if (response.headersSent) {
        // Headers are gone, so the body cannot become a 500; cut the connection rather than send the secret.
        response.destroy();

        return response;
      }
      response.statusCode = 500;
      response.removeHeader('ETag');
      response.setHeader('Content-Type', 'application/problem+json');
      response.setHeader('Content-Length', Buffer.byteLength(WITHHELD_RESPONSE_BODY));

      return originalEnd(WITHHELD_RESPONSE_BODY, done);
    }) as Response['end'];

    next();
  };
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) {
    return chunk;
  }
  if (chunk instanceof Uint8Array) {
    return Buffer.from(chunk);
  }

  return Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
}

/** Names the kind of secret in a body (`stripe_key` or `webhook_secret`), or null. */
export function findSecretKind(body: Buffer): string | null {
  if (body.length === 0) {
    return null;
  }

  const text = body.toString('latin1');
  if (SECRET_PATTERNS[0].test(text)) {
    return 'stripe_key';
  }
  if (SECRET_PATTERNS[1].test(text)) {
    return 'webhook_secret';
  }

  return null;
}
