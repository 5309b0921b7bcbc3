import { validationFailed } from '../errors/domain-error';

/** The last row of a page, by the keyset (created_at, id) that lists are ordered on, newest first. */
export interface KeysetPosition {
  /** created_at with PostgreSQL's microseconds, as text: a JavaScript Date would drop them and repeat or skip rows. */
  createdAt: string;
  id: string;
}

export const DEFAULT_PAGE_LIMIT = 25;
export const MAX_PAGE_LIMIT = 100;

const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * SQL that renders a timestamptz column as the cursor's text, with all six
 * fractional digits. `column` is a trusted column reference, never input.
 */
export function cursorTimestampSql(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export function encodeCursor(position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id]), 'utf8').toString('base64url');
}

/** Decodes a cursor from a query string; a malformed one is a 400 on the `cursor` field. */
export function decodeCursor(cursor: string, field = 'cursor'): KeysetPosition {
  const invalid = () => validationFailed([{ field, message: 'is not a cursor returned by this list' }]);
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }

  if (!Array.isArray(decoded) || decoded.length !== 2) {
    throw invalid();
  }

  const [createdAt, id] = decoded as unknown[];
  if (typeof createdAt !== 'string' || !TIMESTAMP_PATTERN.test(createdAt) || typeof id !== 'string' || !UUID_PATTERN.test(id)) {
    throw invalid();
  }

  return { createdAt, id };
}

/** The page size a list returns: `limit` clamped to 1…MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT when absent. */
export function pageLimit(limit: number | undefined): number {
  return Math.min(Math.max(limit ?? DEFAULT_PAGE_LIMIT, 1), MAX_PAGE_LIMIT);
}

/** A row fetched for a keyset page: its id, and its keyset time as cursorTimestampSql renders it. */
export interface KeysetRow {
  id: string;
  keyset_time: string;
}

/**
 * Cuts rows fetched with a limit of `limit + 1` into a page of at most
 * `limit` items, with the cursor after its last row when another row follows.
 */
export function toKeysetPage<R extends KeysetRow, T>(rows: R[], limit: number, toItem: (row: R) => T): { data: T[]; nextCursor: string | null } {
  if (rows.length <= limit) {
    return { data: rows.map(toItem), nextCursor: null };
  }

  const last = rows[limit - 1];

  return {
    data: rows.slice(0, limit).map(toItem),
    nextCursor: encodeCursor({ createdAt: last.keyset_time, id: last.id }),
  };
}
