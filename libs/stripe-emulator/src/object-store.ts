import { invalidRequest, resourceMissing } from './errors';

/** The account and mode a request acts in. Every object lookup is confined to it. */
export interface Scope {
  accountId: string;
  livemode: boolean;
}

export interface StoredObject {
  id: string;
  created: number;
}

/** Stripe's list envelope. */
export interface ListObject<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

interface Entry<T> {
  accountId: string;
  // Kept beside the object because some Stripe objects (refunds) have no `livemode` field.
  livemode: boolean;
  sequence: number;
  object: T;
}

/**
 * In-memory objects of one Stripe resource, each owned by an account and a mode. Lookups
 * outside the caller's scope raise Stripe's 404, with Stripe's hint when the object exists
 * in the other mode of the same account.
 */
export class ObjectStore<T extends StoredObject> {
  private readonly entries = new Map<string, Entry<T>>();
  private sequence = 0;

  /** @param label the resource name Stripe uses in "No such …" messages, e.g. `payment_intent`. */
  constructor(readonly label: string) {}

  insert(scope: Scope, object: T): T {
    this.sequence += 1;
    this.entries.set(object.id, { ...scope, sequence: this.sequence, object });
    return object;
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  find(scope: Scope, id: string): T | undefined {
    const entry = this.entries.get(id);
    if (entry && entry.accountId === scope.accountId && entry.livemode === scope.livemode) {
      return entry.object;
    }
    return undefined;
  }

  /** Returns the object or raises Stripe's `resource_missing` 404 naming `param`. */
  get(scope: Scope, id: string, param = 'id'): T {
    const found = this.find(scope, id);
    if (found) {
      return found;
    }
    const entry = this.entries.get(id);
    if (entry && entry.accountId === scope.accountId) {
      throw resourceMissing(this.label, id, param, {
        requested: scope.livemode ? 'live' : 'test',
        found: entry.livemode ? 'live' : 'test',
      });
    }
    throw resourceMissing(this.label, id, param);
  }

  /** Returns an object and its owning account regardless of scope, for the emulator's own use. */
  lookup(id: string): { accountId: string; livemode: boolean; object: T } | undefined {
    const entry = this.entries.get(id);
    return entry ? { accountId: entry.accountId, livemode: entry.livemode, object: entry.object } : undefined;
  }

  /** Returns the scope's objects, newest first, as Stripe lists them. */
  list(scope: Scope, filter: (object: T) => boolean = () => true): T[] {
    const matches: Entry<T>[] = [];
    for (const entry of this.entries.values()) {
      if (entry.accountId === scope.accountId && entry.livemode === scope.livemode && filter(entry.object)) {
        matches.push(entry);
      }
    }
    matches.sort((a, b) => b.object.created - a.object.created || b.sequence - a.sequence);
    return matches.map((entry) => entry.object);
  }
}

export interface PageParams {
  limit?: number;
  starting_after?: string;
  ending_before?: string;
}

/** Cuts one page out of a newest-first list the way Stripe's cursor pagination does. */
export function paginate<T extends StoredObject>(
  items: T[],
  page: PageParams,
  url: string,
  label: string,
): ListObject<T> {
  const limit = page.limit ?? 10;
  if (page.starting_after !== undefined && page.ending_before !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: ending_before, starting_after.');
  }
  if (page.starting_after !== undefined) {
    const index = items.findIndex((item) => item.id === page.starting_after);
    if (index === -1) {
      throw resourceMissing(label, page.starting_after, 'starting_after');
    }
    const rest = items.slice(index + 1);
    return { object: 'list', data: rest.slice(0, limit), has_more: rest.length > limit, url };
  }
  if (page.ending_before !== undefined) {
    const index = items.findIndex((item) => item.id === page.ending_before);
    if (index === -1) {
      throw resourceMissing(label, page.ending_before, 'ending_before');
    }
    const before = items.slice(0, index);
    const start = Math.max(0, before.length - limit);
    return { object: 'list', data: before.slice(start), has_more: start > 0, url };
  }
  return { object: 'list', data: items.slice(0, limit), has_more: items.length > limit, url };
}

/** Maps an expandable field name to a loader for the object its id points at. */
export type Expanders = Record<string, (id: string) => object>;

/**
 * Raises Stripe's 400 for an `expand[]` path the resource cannot expand, before any side
 * effect of the request happens.
 */
export function checkExpandPaths(paths: readonly string[] | undefined, expandable: readonly string[]): void {
  for (const path of paths ?? []) {
    if (!expandable.includes(path)) {
      throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
    }
  }
}

/**
 * Replaces id fields with the objects they name, for `expand[]`. Paths prefixed with `data.`
 * apply to each element of a list. Nested paths (`latest_charge.balance_transaction`) and
 * fields without an expander raise Stripe's 400.
 */
export function expandFields<T extends object>(object: T, paths: readonly string[], expanders: Expanders): T {
  if (paths.length === 0) {
    return object;
  }
  const result = { ...object } as Record<string, unknown>;
  for (const path of paths) {
    const expander = Object.hasOwn(expanders, path) ? expanders[path] : undefined;
    if (!expander) {
      throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
    }
    const value = result[path];
    if (typeof value === 'string') {
      result[path] = expander(value);
    }
  }
  return result as T;
}

/** Applies `expand[]` to a list response, accepting only `data.`-prefixed paths as Stripe does. */
export function expandList<T extends object>(
  list: ListObject<T>,
  paths: readonly string[],
  expanders: Expanders,
): ListObject<T> {
  const itemPaths = paths.map((path) => {
    if (!path.startsWith('data.')) {
      throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
    }
    return path.slice('data.'.length);
  });
  return { ...list, data: list.data.map((item) => expandFields(item, itemPaths, expanders)) };
}
