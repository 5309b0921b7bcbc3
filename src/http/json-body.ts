import { EmptyBodyPipe } from '@app/common/validation/empty-body.pipe';
import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { BodyReadError, describeBodyReadError, isBodyReadError } from '@app/common/errors/body-errors';
import { validationFailed } from '@app/common/errors/domain-error';
import { findDuplicateKey } from '@app/common/json/duplicate-keys';
import { containsSecret, redactSecrets } from '@app/common/keys/stripe-keys';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { Observable } from 'rxjs';
import { isUtf8 } from 'node:buffer';

const BODY_ERROR = Symbol('bodyError');
/** The bytes of a JSON body as read, after any Content-Encoding, with the charset they were decoded with. */
const RAW_BODY = Symbol('rawBody');
/** The media type of a body the JSON parser skipped, or '' when the request named none. */
const UNREAD_BODY_TYPE = Symbol('unreadBodyType');
/** A media type worth quoting back: type/subtype in token characters, short. */
const QUOTABLE_MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]{1,40}\/[a-z0-9!#$&^_.+-]{1,60}$/;
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

type RequestWithBodyError = Request & {
  [BODY_ERROR]?: BodyReadError;
  [UNREAD_BODY_TYPE]?: string;
  [RAW_BODY]?: { bytes: Buffer; charset: string };
};

/**
 * Parse JSON bodies, but hold the error of a body that cannot be read until the
 * request has been authenticated and authorized, because the contract puts 401
 * and 403 before 400. That covers malformed JSON, an unsupported charset or
 * Content-Encoding, and a body that does not inflate. Bodies over the limit
 * still fail at once with 413, since they are never read. A body that is not
 * declared as JSON is left unread and remembered, so that a route that takes
 * a body can reject it instead of seeing no fields at all.
 */
export function deferredJsonParser(limit: string): RequestHandler {
  const parse = express.json({
    limit,
    // Kept for the duplicate-key check, which needs the text because parsing keeps only the last of duplicate keys.
    verify: (request: RequestWithBodyError, _response, bytes, charset) => {
      request[RAW_BODY] = { bytes, charset };
    },
  });

  return (request: Request, response: Response, next: NextFunction) => {
    parse(request, response, (error?: unknown) => {
      if (isBodyReadError(error) && error.type !== 'entity.too.large') {
        (request as RequestWithBodyError)[BODY_ERROR] = error;
        request.body = undefined;
        next();

        return;
      }
      if (error === undefined && request.body === undefined && hasBody(request)) {
        (request as RequestWithBodyError)[UNREAD_BODY_TYPE] = mediaType(request.headers['content-type']);
      }
      next(error);
    });
  };
}

/**
 * Raise the held body error, reject a body that was not sent as JSON to a
 * route that takes one, and reject prototype keys anywhere in the body, once
 * the guards have run (interceptors run after guards and before pipes).
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
      // Text in another encoding, such as Latin-1 or UTF-16, fails to parse too. Its encoding is the fault to name.
      const raw = request[RAW_BODY];
      if (raw !== undefined && !isUtf8(raw.bytes)) {
        throw notUtf8();
      }
      const { detail, error } = describeBodyReadError(bodyError);
      throw validationFailed([error], detail);
    }
    if (bodyError !== undefined) {
      // A client fault, so a warning without the stack, which would only show body-parser's frames.
      this.logger.warn({ bodyError: { type: bodyError.type, message: bodyError.message } }, 'Rejected a request body that could not be decoded');
      const { detail, error } = describeBodyReadError(bodyError);
      throw validationFailed([error], detail);
    }

    const raw = request[RAW_BODY];
    if (raw !== undefined && raw.charset !== 'utf-8' && raw.charset !== 'utf8') {
      // JSON between systems is UTF-8 (RFC 8259), though body-parser decodes any utf-* charset.
      // Taking UTF-8 only spares the duplicate-key and text checks every other decoder, UTF-7 among them.
      throw validationFailed(
        [{ field: 'Content-Type', message: `charset "${raw.charset}" is not accepted; use utf-8` }],
        `The request body is declared as ${raw.charset}. Send the JSON encoded as UTF-8, with charset=utf-8 or no charset.`,
      );
    }
    if (raw !== undefined && !isUtf8(raw.bytes)) {
      // body-parser replaces such bytes with U+FFFD, so a name would be stored and sent to Stripe garbled.
      throw notUtf8();
    }

    const unreadType = request[UNREAD_BODY_TYPE];
    if (unreadType !== undefined && takesBody(context)) {
      throw unreadBody(unreadType);
    }

    const repeated = takesQuery(context) ? Object.keys(request.query).find((name) => Array.isArray(request.query[name])) : undefined;
    if (repeated !== undefined) {
      throw validationFailed(
        [{ field: repeated, message: 'must appear only once' }],
        `The query parameter ${repeated} was given more than once. Give each query parameter once.`,
      );
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

    const duplicate = duplicateKeyOf(request);
    if (duplicate !== null) {
      throw validationFailed(
        [{ field: duplicate, message: 'must appear only once' }],
        `The request body has the key "${duplicate.split('.').pop()}" twice in one object, so which value applies is ambiguous. Send each key once.`,
      );
    }

    return next.handle();
  }
}

/** Returns the path of a key that appears twice in one object of the JSON body, masked when it contains a secret, or null. */
function duplicateKeyOf(request: RequestWithBodyError): string | null {
  const raw = request[RAW_BODY];
  if (raw === undefined || typeof request.body !== 'object' || request.body === null) {
    return null;
  }

  // Only UTF-8 bodies get this far, because the charset check above rejects the rest.
  const path = findDuplicateKey(raw.bytes.toString('utf8'));

  return path === null ? null : redactSecrets(path);
}

function notUtf8(): Error {
  return validationFailed(
    [{ field: 'body', message: 'must be encoded as UTF-8' }],
    'The request body contains bytes that are not UTF-8. Send the JSON encoded as UTF-8.',
  );
}

function unstorableText(field: string): Error {
  return validationFailed(
    [{ field, message: 'must not contain a NUL character or an unpaired UTF-16 surrogate' }],
    `The value of ${field} contains a NUL character (\\u0000) or an unpaired surrogate (\\ud800 to \\udfff), which cannot be stored. Remove it and send the request again.`,
  );
}

/** Returns the handler's parameters as Nest records them: each one's kind (`@Body()`, `@Query()`, …) and pipes. */
function routeArguments(context: ExecutionContext): { type: RouteParamtypes; pipes: unknown[] }[] {
  const argumentsMetadata: Record<string, { pipes?: unknown[] }> = Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), context.getHandler().name) ?? {};

  return Object.entries(argumentsMetadata).map(([key, argument]) => ({ type: Number(key.split(':')[0]) as RouteParamtypes, pipes: argument.pipes ?? [] }));
}

/** Tell whether the route handler has a `@Query()` parameter. */
function takesQuery(context: ExecutionContext): boolean {
  return routeArguments(context).some((argument) => argument.type === RouteParamtypes.QUERY);
}

/** Tell whether the route handler has a `@Body()` parameter. A body that only EmptyBodyPipe checks belongs to a route that takes none. */
function takesBody(context: ExecutionContext): boolean {
  return routeArguments(context).some((argument) => argument.type === RouteParamtypes.BODY && !argument.pipes.includes(EmptyBodyPipe));
}

/** Build the 400 for a body the JSON parser skipped. It quotes the media type only when it is a plain one, because the header is client text. */
function unreadBody(contentType: string): Error {
  let sent = 'with an unsupported Content-Type';
  if (contentType === '') {
    sent = 'without a Content-Type';
  } else if (QUOTABLE_MEDIA_TYPE.test(contentType)) {
    sent = `with Content-Type ${contentType}`;
  }

  return validationFailed(
    [{ field: 'Content-Type', message: 'must be application/json' }],
    `The request body was sent ${sent}, so it was not read. Send the fields as a JSON object with Content-Type: application/json.`,
  );
}

/** Tell whether a request carries body bytes: chunked, or a Content-Length above zero. */
function hasBody(request: Request): boolean {
  return request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length']) > 0;
}

/** Return the lower-case media type of a Content-Type header without its parameters, or '' when there is none. */
function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
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
  const pending: { value: unknown; path: string; depth: number; inSecretField: boolean }[] = [{ value: body, path: '', depth: 0, inSecretField: false }];
  while (pending.length > 0) {
    const { value, path, depth, inSecretField } = pending.pop()!;
    if (typeof value === 'string' && UNSTORABLE_TEXT.test(value)) {
      return { kind: 'unstorable_text', path: path === '' ? 'body' : path };
    }
    if (typeof value === 'string' && depth > 0 && !inSecretField && containsSecret(value)) {
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
      if (!inSecretField && containsSecret(key)) {
        // The path goes back in the error body, so the key in it is masked.
        return { kind: 'secret', path: redactSecrets(childPath) };
      }
      // A key wrapped in an object or array is still in the field meant for it, where the
      // validation rejects it as not a string. Reported here, it would read as a key sent in the wrong field.
      const childInSecretField = inSecretField || (depth === 0 && SECRET_FIELDS.has(key));
      pending.push({ value: (value as Record<string, unknown>)[key], path: childPath, depth: depth + 1, inSecretField: childInSecretField });
    }
  }

  return null;
}
