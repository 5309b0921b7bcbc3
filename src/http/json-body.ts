import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { validationFailed } from '@app/common/errors/domain-error';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { Observable } from 'rxjs';

const BODY_ERROR = Symbol('bodyError');
/** Keys that would reach an object's prototype if a later step copied the body naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

type RequestWithBodyError = Request & { [BODY_ERROR]?: unknown };

/**
 * Parse JSON bodies, but hold a malformed body's error until the request has
 * been authenticated and authorized: the contract puts 401 and 403 before 400.
 * Bodies over the limit still fail at once with 413, since they are never read.
 */
export function deferredJsonParser(limit: string): RequestHandler {
  const parse = express.json({ limit });

  return (request: Request, response: Response, next: NextFunction) => {
    parse(request, response, (error?: unknown) => {
      if (error && (error as { type?: string }).type === 'entity.parse.failed') {
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
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') {
      return next.handle();
    }

    const request = context.switchToHttp().getRequest<RequestWithBodyError>();
    if (request[BODY_ERROR] !== undefined) {
      throw validationFailed([{ field: 'body', message: 'must be a JSON object' }], 'The request body is not a JSON object.');
    }

    const forbidden = findForbiddenKey(request.body, 'body');
    if (forbidden) {
      throw validationFailed([{ field: forbidden, message: 'is not allowed' }], `The request body may not contain the key "${forbidden.split('.').pop()}".`);
    }

    return next.handle();
  }
}

function findForbiddenKey(value: unknown, path: string, depth = 0): string | null {
  // A raw body (the webhook route's Buffer) has one key per byte and no prototype keys to find.
  if (typeof value !== 'object' || value === null || depth > 32 || ArrayBuffer.isView(value)) {
    return null;
  }

  for (const key of Object.keys(value)) {
    const childPath = path === 'body' ? key : `${path}.${key}`;
    if (FORBIDDEN_KEYS.has(key)) {
      return childPath;
    }
    const found = findForbiddenKey((value as Record<string, unknown>)[key], childPath, depth + 1);
    if (found) {
      return found;
    }
  }

  return null;
}
