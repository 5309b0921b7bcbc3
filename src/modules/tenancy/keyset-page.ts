import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, cursorTimestampSql, decodeCursor, encodeCursor } from '@app/common/pagination/keyset-cursor';
import { ObjectLiteral, SelectQueryBuilder } from 'typeorm';

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
