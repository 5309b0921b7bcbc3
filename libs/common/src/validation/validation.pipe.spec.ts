import { ArgumentMetadata } from '@nestjs/common';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { DomainError } from '../errors/domain-error';
import { createValidationPipe } from './validation.pipe';

class CredentialsDto {
  @IsOptional()
  @IsString()
  @MaxLength(63)
  tenant?: string;

  @IsString()
  @MaxLength(254)
  email!: string;
}

class SeatsDto {
  @IsInt({ message: 'must be a whole number of seats' })
  seats!: number;

  @IsOptional()
  @Matches(/^[A-Z]/, { message: 'must start with a capital letter' })
  @MaxLength(5)
  code?: string;
}

class BoundsDto {
  @IsOptional()
  @IsString()
  @MinLength(3)
  label?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  count?: number;
}

const BODY: ArgumentMetadata = { type: 'body', metatype: CredentialsDto };
const SEATS_BODY: ArgumentMetadata = { type: 'body', metatype: SeatsDto };

async function rejection(value: unknown, metadata: ArgumentMetadata = BODY): Promise<DomainError> {
  try {
    await createValidationPipe().transform(value, metadata);
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('the pipe accepted the value');
}

describe('createValidationPipe', () => {
  it('rejects an array body as one body error', async () => {
    const error = await rejection([{ email: 'a@example.com' }, 2]);

    expect(error.code).toBe('validation_failed');
    expect(error.message).toBe('The request body is not a JSON object.');
    expect(error.errors).toEqual([{ field: 'body', message: 'must be a JSON object' }]);
  });

  it('rejects a string body as one body error', async () => {
    const error = await rejection('a@example.com');

    expect(error.errors).toEqual([{ field: 'body', message: 'must be a JSON object' }]);
  });

  it('reports only the type of a non-string field', async () => {
    const error = await rejection({ tenant: ['acme'], email: 'a@example.com' });

    expect(error.errors).toEqual([{ field: 'tenant', message: 'must be a string' }]);
  });

  it('keeps the other constraints of a string field', async () => {
    const error = await rejection({ email: 'a'.repeat(300) });

    expect(error.errors).toEqual([{ field: 'email', message: 'must be at most 254 characters long' }]);
  });

  it('reports a missing field as required', async () => {
    const error = await rejection({}, SEATS_BODY);

    expect(error.errors).toEqual([{ field: 'seats', message: 'is required: a whole number of seats' }]);
  });

  it('reports a missing string field as required', async () => {
    const error = await rejection({});

    expect(error.errors).toEqual([{ field: 'email', message: 'is required: a string' }]);
  });

  it('hints at a number sent as a string', async () => {
    const error = await rejection({ seats: '3' }, SEATS_BODY);

    expect(error.errors).toEqual([{ field: 'seats', message: 'must be a whole number of seats, sent as a JSON number rather than a string' }]);
  });

  it('joins one field\'s constraints into one message', async () => {
    const error = await rejection({ seats: 3, code: 'abcdefg' }, SEATS_BODY);

    expect(error.errors).toEqual([{ field: 'code', message: 'must be at most 5 characters long and must start with a capital letter' }]);
  });

  it.each([
    ['a short text', { label: 'ab' }, 'label', 'must be at least 3 characters long'],
    ['a number below its minimum', { count: 0 }, 'count', 'must be at least 1'],
    ['a number above its maximum', { count: 11 }, 'count', 'must be at most 10'],
  ])('words %s as the API does', async (_case, body, field, message) => {
    const error = await rejection(body, { type: 'body', metatype: BoundsDto });

    expect(error.errors).toEqual([{ field, message }]);
  });

  it('names an unknown field', async () => {
    const error = await rejection({ email: 'a@example.com', tip: 100 });

    expect(error.errors).toEqual([{ field: 'tip', message: 'is unknown: remove it or check its spelling' }]);
  });

  it('reports unknown and invalid fields together', async () => {
    const error = await rejection({ tip: 100 }, SEATS_BODY);

    expect(error.errors).toEqual([
      { field: 'tip', message: 'is unknown: remove it or check its spelling' },
      { field: 'seats', message: 'is required: a whole number of seats' },
    ]);
  });

  it('leaves arrays alone outside the body', async () => {
    const query: ArgumentMetadata = { type: 'query', metatype: Array };

    await expect(createValidationPipe().transform(['a'], query)).resolves.toEqual(['a']);
  });

  it('passes a valid object', async () => {
    await expect(createValidationPipe().transform({ email: ' a@example.com' }, BODY)).resolves.toBeInstanceOf(CredentialsDto);
  });
});
