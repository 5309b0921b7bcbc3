import { invalidRequest } from './errors';
import type { Scope, StoredObject } from './object-store';
import type { TimerSet } from './timers';

/*
 * Stripe's search: a lagging index of objects and the search query language
 * (docs.stripe.com/search). Clauses are `field:value` (exact), `field~"value"` (substring, at
 * least 3 characters), `field>value` and the other numeric comparisons, `field:null`, a leading
 * `-` to negate, and `metadata['key']:'value'`. Clauses join with AND or with OR, never both.
 */

interface IndexEntry<T> {
  scope: Scope;
  snapshot: T;
}

/**
 * Snapshots of objects as search reads them. `indexLater` takes the snapshot after the delay, so
 * a search right after a create or an update misses the change, as Stripe's does.
 */
export class SearchIndex<T extends StoredObject> {
  private readonly entries = new Map<string, IndexEntry<T>>();

  constructor(
    private readonly timers: TimerSet,
    private readonly delayMs: number,
  ) {}

  /** Indexes the object's state after the delay; a deleted object (`remove`) is left out. */
  indexLater(scope: Scope, object: T): void {
    const snapshot = structuredClone(object);
    const apply = () => {
      this.entries.set(object.id, { scope, snapshot });
    };
    if (this.delayMs <= 0) {
      apply();
      return;
    }
    this.timers.schedule(this.delayMs, apply);
  }

  remove(id: string): void {
    this.timers.schedule(Math.max(this.delayMs, 0), () => this.entries.delete(id));
  }

  /** Returns the ids of the scope's indexed objects that match, newest first. */
  search(scope: Scope, matches: (snapshot: T) => boolean): string[] {
    const found: T[] = [];
    for (const entry of this.entries.values()) {
      if (entry.scope.accountId === scope.accountId && entry.scope.livemode === scope.livemode && matches(entry.snapshot)) {
        found.push(entry.snapshot);
      }
    }
    found.sort((a, b) => b.created - a.created);
    return found.map((object) => object.id);
  }
}

type Comparator = ':' | '~' | '>' | '<' | '>=' | '<=';

export interface SearchClause {
  /** A field name, or `metadata` with `metadataKey` set. */
  field: string;
  metadataKey?: string;
  comparator: Comparator;
  /** The value; null for `field:null`. */
  value: string | null;
  negated: boolean;
}

export interface SearchQuery {
  clauses: SearchClause[];
  combinator: 'AND' | 'OR';
}

// Stripe allows at most 10 clauses in one query.
const MAX_CLAUSES = 10;

function queryError(message: string): Error {
  return invalidRequest(`Invalid search query: ${message}`, { param: 'query' });
}

/** Parses a search query, raising Stripe's 400 naming the problem. */
export function parseSearchQuery(query: string): SearchQuery {
  const clauses: SearchClause[] = [];
  const combinators = new Set<'AND' | 'OR'>();
  let rest = query.trim();
  if (rest === '') {
    throw queryError('the query is empty.');
  }

  while (rest.length > 0) {
    const { clause, remaining } = parseClause(rest);
    clauses.push(clause);
    rest = remaining.trimStart();
    if (rest === '') {
      break;
    }
    const combinator = /^(AND|OR)\s+/.exec(rest);
    if (!combinator) {
      throw queryError(`expected AND or OR before "${rest.slice(0, 20)}".`);
    }
    combinators.add(combinator[1] as 'AND' | 'OR');
    rest = rest.slice(combinator[0].length);
  }

  if (combinators.size > 1) {
    throw queryError('AND and OR cannot be combined in one query.');
  }
  if (clauses.length > MAX_CLAUSES) {
    throw queryError(`a query can have at most ${MAX_CLAUSES} clauses.`);
  }
  return { clauses, combinator: combinators.has('OR') ? 'OR' : 'AND' };
}

function parseClause(text: string): { clause: SearchClause; remaining: string } {
  const head = /^(-?)([a-z_]+)(?:\[(?:'([^']*)'|"([^"]*)")\])?(>=|<=|:|~|>|<)/.exec(text);
  if (!head) {
    throw queryError(`expected a clause such as status:'open' at "${text.slice(0, 20)}".`);
  }
  const [matched, negation, field, singleKey, doubleKey, comparator] = head;
  const metadataKey = singleKey ?? doubleKey;
  if ((field === 'metadata') !== (metadataKey !== undefined)) {
    throw queryError(`metadata clauses name their key, as in metadata['order_id']:'6735'.`);
  }

  const { value, remaining } = parseValue(text.slice(matched.length));
  if (comparator === '~' && (value === null || value.length < 3)) {
    throw queryError('a substring match (~) needs a quoted value of at least 3 characters.');
  }
  return {
    clause: { field, metadataKey, comparator: comparator as Comparator, value, negated: negation === '-' },
    remaining,
  };
}

function parseValue(text: string): { value: string | null; remaining: string } {
  const quote = text[0];
  if (quote === "'" || quote === '"') {
    let value = '';
    for (let index = 1; index < text.length; index++) {
      const character = text[index];
      if (character === '\\' && index + 1 < text.length) {
        value += text[index + 1];
        index++;
      } else if (character === quote) {
        return { value, remaining: text.slice(index + 1) };
      } else {
        value += character;
      }
    }
    throw queryError('a quoted value is not closed.');
  }

  const bare = /^[^\s]+/.exec(text);
  if (!bare) {
    throw queryError('a clause has no value.');
  }
  return { value: bare[0] === 'null' ? null : bare[0], remaining: text.slice(bare[0].length) };
}

/** Describes how search reads one field of an object: a string, a number, or a metadata map. */
export type FieldReader<T> = (object: T, clause: SearchClause) => string | number | null | undefined;

/**
 * Builds the predicate of a parsed query. `fields` lists the query fields the resource supports;
 * any other field raises Stripe's 400.
 */
export function searchPredicate<T>(query: SearchQuery, fields: Record<string, FieldReader<T>>): (object: T) => boolean {
  for (const clause of query.clauses) {
    if (!Object.hasOwn(fields, clause.field)) {
      throw queryError(`the field ${clause.field} is not supported; use one of ${Object.keys(fields).join(', ')}.`);
    }
  }

  const tests = query.clauses.map((clause) => {
    const read = fields[clause.field];
    return (object: T) => {
      const result = compare(read(object, clause), clause);
      return clause.negated ? !result : result;
    };
  });
  return query.combinator === 'AND'
    ? (object) => tests.every((test) => test(object))
    : (object) => tests.some((test) => test(object));
}

function compare(actual: string | number | null | undefined, clause: SearchClause): boolean {
  const { comparator, value } = clause;
  if (value === null) {
    return comparator === ':' && (actual === null || actual === undefined || actual === '');
  }
  if (actual === null || actual === undefined) {
    return false;
  }
  switch (comparator) {
    case ':':
      return String(actual).toLowerCase() === value.toLowerCase();
    case '~':
      return String(actual).toLowerCase().includes(value.toLowerCase());
    default:
      return compareNumbers(actual, comparator, value);
  }
}

function compareNumbers(actual: string | number, comparator: '>' | '<' | '>=' | '<=', value: string): boolean {
  const expected = Number(value);
  if (!Number.isFinite(expected) || typeof actual !== 'number') {
    throw queryError(`the comparison ${comparator}${value} needs a numeric field and value.`);
  }
  switch (comparator) {
    case '>':
      return actual > expected;
    case '<':
      return actual < expected;
    case '>=':
      return actual >= expected;
    case '<=':
      return actual <= expected;
  }
}

/** Encodes the offset of the next search page as Stripe's opaque `next_page` token. */
export function encodeSearchPage(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64url');
}

export function decodeSearchPage(page: string | undefined): number {
  if (page === undefined) {
    return 0;
  }
  try {
    const decoded = JSON.parse(Buffer.from(page, 'base64url').toString('utf8')) as { offset?: unknown };
    if (typeof decoded.offset === 'number' && Number.isSafeInteger(decoded.offset) && decoded.offset >= 0) {
      return decoded.offset;
    }
  } catch {
    // Falls through to the error below.
  }
  throw invalidRequest('Invalid page: use the next_page value of a previous search response.', { param: 'page' });
}
