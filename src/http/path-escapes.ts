import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Return a middleware that keeps a malformed percent escape in the path
 * (`/api/v1/payments/%ZZ`, or bytes that are not UTF-8) from failing the
 * request in the router. Express's router rejects such a path with 400 before
 * any guard runs, so it would come before 401 and 403, and an id that cannot
 * exist would not get 404. Each path segment that does not decode has its `%`
 * escaped as `%25`, so the route receives the segment's characters as sent.
 */
export function repairPathEscapes(): RequestHandler {
  return (request: Request, _response: Response, next: NextFunction) => {
    const repaired = repairedUrl(request.url);
    if (repaired !== null) {
      request.url = repaired;
    }
    next();
  };
}

/** Return `url` with its undecodable path segments escaped, or null when every segment decodes. */
export function repairedUrl(url: string): string | null {
  const queryStart = url.indexOf('?');
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  if (!path.includes('%')) {
    return null;
  }

  let changed = false;
  const segments = path.split('/').map((segment) => {
    if (decodes(segment)) {
      return segment;
    }

    changed = true;

    return segment.replace(/%/g, '%25');
  });

  if (!changed) {
    return null;
  }

  const query = queryStart === -1 ? '' : url.slice(queryStart);

  return segments.join('/') + query;
}

function decodes(segment: string): boolean {
  try {
    decodeURIComponent(segment);

    return true;
  } catch {
    return false;
  }
}
