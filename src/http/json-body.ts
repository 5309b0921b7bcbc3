import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { BodyReadError, describeBodyReadError, isBodyReadError } from '@app/common/errors/body-errors';
import { validationFailed } from '@app/common/errors/domain-error';
import { containsSecret, redactSecrets } from '@app/common/keys/stripe-keys';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { Observable } from 'rxjs';

const BODY_ERROR = Symbol('bodyError');
/** Keys that would reach an object's prototype if a later step copied the body naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Top-level fields that carry a secret by design: Stripe keys on connect and
 * rotation, a webhook signing secret, a password. Anywhere else a secret key
 * or signing secret would be stored in plain text and echoed in responses,
 * where the response check would have to withhold them as a 500.
 */
const SECRET_FIELDS = new Set(['secretKey', 'publishableKey', 'secret', 'password']);

/** Objects and arrays nested in a body, the body itself counted as the first level. */
export const MAX_BODY_DEPTH = 32;

type RequestWithBodyError = Request & { [BODY_ERROR]?: BodyReadError };

/**
 * Parse JSON bodies, but hold the error of a body that cannot be read until the
 * request has been authenticated and authorized, because the contract puts 401
 * and 403 before 400. That covers malformed JSON, an unsupported charset or
 * Content-Encoding, and a body that does not inflate. Bodies over the limit
 * still fail at once with 413, since they are never read.
 */
export function deferredJsonParser(limit: string): RequestHandler {
  const parse = express.json({ limit });

  return (request: Request, response: Response, next: NextFunction) => {
    parse(request, response, (error?: unknown) => {
      if (isBodyReadError(error) && error.type !== 'entity.too.large') {
        (request as RequestWithBodyError)[BODY_ERROR] = error;
        request.body = undefined;
        next();

        return;
      }
      next(error);
    });
  };
}

/**
 * Raise the held body error, and reject prototype keys anywhere in the body,
 * once the guards have run (interceptors run after guards and before pipes).
 */
@Injectable()
export class JsonBodyInterceptor implements NestInterceptor {
  private readonly logger = new Logger(JsonBodyInterceptor.name);

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') {
      return next.handle();
    }

    const request = context.switchToHttp().getRequest<RequestWithBodyError>();
    const bodyError = request[BODY_ERROR];
    if (bodyError?.type === 'entity.parse.failed') {
      const charset = declaredCharset(request.headers['content-type']);
      if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
        // body-parser decodes any utf-* charset, so UTF-8 bytes labelled utf-16 turn into text that is not JSON.
        throw validationFailed(
          [{ field: 'Content-Type', message: `charset "${charset}" did not decode the body to JSON; use utf-8` }],
          `The request body is not JSON when decoded as ${charset}. Send the JSON encoded as UTF-8, with charset=utf-8 or no charset.`,
        );
      }
      throw validationFailed([{ field: 'body', message: 'must be a JSON object' }], 'The request body is not a JSON object.');
    }
    if (bodyError !== undefined) {
      // A client fault, so a warning without the stack, which would only show body-parser's frames.
      this.logger.warn({ bodyError: { type: bodyError.type, message: bodyError.message } }, 'Rejected a request body that could not be decoded');
      const { detail, error } = describeBodyReadError(bodyError);
      throw validationFailed([error], detail);
    }

    const queryProblem = inspectBody(request.query);
    if (queryProblem?.kind === 'unstorable_text') {
      throw unstorableText(queryProblem.path);
    }

    const problem = inspectBody(request.body);
    if (problem?.kind === 'unstorable_text') {
      throw unstorableText(problem.path);
    }
    if (problem?.kind === 'too_deep') {
      throw validationFailed(
        [{ field: 'body', message: `must not nest objects and arrays deeper than ${MAX_BODY_DEPTH} levels` }],
        `The request body nests deeper than ${MAX_BODY_DEPTH} levels. No request of this API needs more than a few.`,
      );
    }
    if (problem?.kind === 'secret') {
      throw validationFailed(
        [{ field: problem.path, message: 'must not contain a Stripe secret or restricted key or a webhook signing secret' }],
        'The request body contains a secret key outside the fields meant for one. Remove it; keys belong in Settings → Billing only.',
      );
    }
    if (problem?.kind === 'forbidden_key') {
      throw validationFailed([{ field: problem.path, message: 'is not allowed' }], `The request body may not contain the key "${problem.path.split('.').pop()}".`);
    }

    return next.handle();
  }
}

function unstorableText(field: string): Error {
  return validationFailed(
    [{ field, message: 'must not contain a NUL character or an unpaired UTF-16 surrogate' }],
    `The value of ${field} contains a NUL character (\\u0000) or an unpaired surrogate (\\ud800 to \\udfff), which cannot be stored. Remove it and send the request again.`,
  );
}

/** Return the lower-case charset parameter of a Content-Type header, or null when it has none. */
function declaredCharset(contentType: string | undefined): string | null {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');

  return match ? match[1].toLowerCase() : null;
}

type BodyProblem = { kind: 'too_deep' } | { kind: 'forbidden_key' | 'secret' | 'unstorable_text'; path: string };

/**
 * A NUL character, which PostgreSQL text and jsonb cannot store, or a UTF-16
 * surrogate without its pair, which has no UTF-8 form and makes stripe-node's
 * form encoding throw. Either would fail a request only after it had written
 * or called Stripe.
 */
// eslint-disable-next-line no-control-regex -- NUL is the character this pattern exists to find.
const UNSTORABLE_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Walk the parsed body without recursion, because validation and
 * class-transformer recurse per level and a deeply nested body would
 * overflow their stack (a 500). Returns the first problem found, or null.
 */
function inspectBody(body: unknown): BodyProblem | null {
  const pending: { value: unknown; path: string; depth: number }[] = [{ value: body, path: '', depth: 0 }];
  while (pending.length > 0) {
    const { value, path, depth } = pending.pop()!;
    if (typeof value === 'string' && UNSTORABLE_TEXT.test(value)) {
      return { kind: 'unstorable_text', path: path === '' ? 'body' : path };
    }
    if (typeof value === 'string' && depth > 0 && !(depth === 1 && SECRET_FIELDS.has(path)) && containsSecret(value)) {
      return { kind: 'secret', path };
    }
    // A Buffer is the raw body of webhook intake, checked by its signature instead.
    if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) {
      continue;
    }
    if (depth >= MAX_BODY_DEPTH) {
      return { kind: 'too_deep' };
    }

    for (const key of Object.keys(value)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      if (FORBIDDEN_KEYS.has(key)) {
        return { kind: 'forbidden_key', path: childPath };
      }
      if (UNSTORABLE_TEXT.test(key)) {
        return { kind: 'unstorable_text', path: path === '' ? 'body' : path };
      }
      if (containsSecret(key)) {
        // The path goes back in the error body, so the key in it is masked.
        return { kind: 'secret', path: redactSecrets(childPath) };
      }
      pending.push({ value: (value as Record<string, unknown>)[key], path: childPath, depth: depth + 1 });
    }
  }

  return null;
}
