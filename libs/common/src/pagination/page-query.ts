import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from './keyset-cursor';

const LIMIT_MESSAGE = `must be an integer from 1 to ${MAX_PAGE_LIMIT}`;

/** Query parameters `limit` and `cursor` that every list route takes; list queries extend it with their filters. */
export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT })
  @IsOptional()
  // Only plain decimal digits become a number: Number() would also take 0x10, 1e1 and " 5".
  // Any other text becomes NaN, which fails as a number rather than as a string sent for one.
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? (/^[1-9]\d{0,3}$/.test(value) ? Number(value) : Number.NaN) : value))
  @IsInt({ message: LIMIT_MESSAGE })
  @Min(1, { message: LIMIT_MESSAGE })
  @Max(MAX_PAGE_LIMIT, { message: LIMIT_MESSAGE })
  limit?: number;

  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}
