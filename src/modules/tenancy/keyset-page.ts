import { CrossTenantFunction, callCrossTenantFunction } from '@app/common/database/tenant-lookup';
import {
  DEFAULT_PAGE_LIMIT,
  KeysetRow,
  MAX_PAGE_LIMIT,
  cursorTimestampSql,
  decodeCursor,
  encodeCursor,
  pageLimit,
  toKeysetPage,
} from '@app/common/pagination/keyset-cursor';
import { DataSource, ObjectLiteral, SelectQueryBuilder } from 'typeorm';

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/**
 * Run `query` as one page, newest first, ordered by `timeColumn` then `id`
 * (both on `alias`), continuing after `page.cursor`. The query must select a
 * single entity without joins, so raw rows line up with entities.
 */
export async function fetchPage<T extends ObjectLiteral>(
  query: SelectQueryBuilder<T>,
  alias: string,
  timeColumn: string,
  page: PageRequest,
): Promise<Page<T>> {
  const limit = Math.min(Math.max(page.limit ?? DEFAULT_PAGE_LIMIT, 1), MAX_PAGE_LIMIT);
  const time = `${alias}.${timeColumn}`;

  query
    .addSelect(cursorTimestampSql(time), 'keyset_time')
    .orderBy(time, 'DESC')
    .addOrderBy(`${alias}.id`, 'DESC')
    .limit(limit + 1);

  if (page.cursor) {
    const position = decodeCursor(page.cursor);
    query.andWhere(`(${time}, ${alias}.id) < (CAST(:keysetTime AS timestamptz), CAST(:keysetId AS uuid))`, {
      keysetTime: position.createdAt,
      keysetId: position.id,
    });
  }

  const { entities, raw } = await query.getRawAndEntities<{ keyset_time: string }>();
  if (entities.length <= limit) {
    return { data: entities, nextCursor: null };
  }

  const last = limit - 1;

  return {
    data: entities.slice(0, limit),
    nextCursor: encodeCursor({ createdAt: raw[last].keyset_time, id: String(entities[last].id) }),
  };
}

/**
 * Fetches one page through a SECURITY DEFINER list function, newest first,
 * continuing after `page.cursor`. The function takes the cursor's time and id
 * (both NULL for the first page) and the row limit as its arguments, and
 * returns each row's keyset time in `keyset_time`.
 */
export async function fetchFunctionPage<R extends KeysetRow, T>(
  dataSource: DataSource,
  name: CrossTenantFunction,
  page: PageRequest,
  toItem: (row: R) => T,
): Promise<Page<T>> {
  const limit = pageLimit(page.limit);
  const after = page.cursor ? decodeCursor(page.cursor) : undefined;
  const rows = await callCrossTenantFunction<R>(dataSource, name, [after?.createdAt ?? null, after?.id ?? null, limit + 1]);

  return toKeysetPage(rows, limit, toItem);
}
