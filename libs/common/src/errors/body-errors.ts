import { FieldError } from './domain-error';

/**
 * An error body-parser (through raw-body) passes to `next` when it cannot read
 * a body. Version 2.x sets `type` on most of them. A failed decompression
 * arrives as the zlib error with only `status` 400 set.
 */
export interface BodyReadError {
  type?: string;
  status?: number;
  limit?: number;
  charset?: string;
  encoding?: string;
  /** The decoded text of a body that failed to parse. */
  body?: string;
  message: string;
}

/**
 * Families of the `type` that body-parser and raw-body set: `entity.*`, `request.aborted`,
 * `request.size.invalid`, and the 415 `charset.unsupported` and `encoding.unsupported`,
 * which become 400 here because the contract has no 415.
 */
const BODY_ERROR_TYPE = /^(entity|request|charset|encoding)\./;

/**
 * Tell whether an error came from reading the request body: one of body-parser's
 * typed errors, or an untyped one it marked 4xx (a gzip body that does not inflate).
 */
export function isBodyReadError(error: unknown): error is BodyReadError {
  if (typeof error !== 'object' || error === null) {
    return false;
  }

  const { type, status, expose } = error as { type?: unknown; status?: unknown; expose?: unknown };
  if (typeof type === 'string' && BODY_ERROR_TYPE.test(type)) {
    return true;
  }

  return typeof status === 'number' && status >= 400 && status < 500 && expose === true && typeof type !== 'string';
}

/** A body error as the client sees it: the 400 detail and its field error. */
export interface BodyErrorDescription {
  detail: string;
  error: FieldError;
}

/**
 * Describe a body that could not be read for a 400 `validation_failed`.
 * The quoted charset and encoding are the request's own header values, so
 * echoing them reveals nothing.
 */
export function describeBodyReadError(error: BodyReadError): BodyErrorDescription {
  if (error.type === 'charset.unsupported') {
    const charset = error.charset ?? 'given';

    return {
      detail: `The request body's charset "${charset}" is not supported. Send the JSON encoded as UTF-8.`,
      error: { field: 'Content-Type', message: `charset "${charset}" is not supported; use utf-8` },
    };
  }

  if (error.type === 'encoding.unsupported') {
    const encoding = error.encoding ?? 'given';

    return {
      detail: `The Content-Encoding "${encoding}" is not supported. Send the body uncompressed, or compressed with gzip, deflate or br.`,
      error: { field: 'Content-Encoding', message: `"${encoding}" is not supported; use gzip, deflate or br, or none` },
    };
  }

  if (error.type === 'entity.parse.failed') {
    return describeJsonParseFailure(error);
  }

  if (error.type === undefined) {
    return {
      detail: 'The request body could not be decompressed as its Content-Encoding header says. Send it uncompressed or fix the header.',
      error: { field: 'Content-Encoding', message: 'does not match the body' },
    };
  }

  return {
    detail: 'The request body could not be read. Send it again, complete and as JSON.',
    error: { field: 'body', message: 'could not be read' },
  };
}

/**
 * Describe a body that body-parser could not parse as JSON. Its strict mode
 * also fails valid JSON whose top level is not an object or array, such as
 * `42` or `"text"`, and such a body gets the "must be a JSON object" error. The
 * parser's own message is not passed on, because V8 quotes part of the body in it.
 */
function describeJsonParseFailure(error: BodyReadError): BodyErrorDescription {
  if (error.body !== undefined && isJsonText(error.body)) {
    return {
      detail: 'The request body is not a JSON object.',
      error: { field: 'body', message: 'must be a JSON object' },
    };
  }

  const position = /at position (\d+)/.exec(error.message)?.[1];
  const where = position === undefined ? '' : ` (parsing stopped at character offset ${position})`;

  return {
    detail: `The request body is not valid JSON${where}. Send the fields as one JSON object.`,
    error: { field: 'body', message: 'must be valid JSON' },
  };
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);

    return true;
  } catch {
    return false;
  }
}
