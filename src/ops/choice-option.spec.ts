import { DomainError } from '@app/common/errors/domain-error';
import { parseChoiceOption } from './choice-option';

const STATUSES = ['failed', 'ignored', 'processed'] as const;

describe('parseChoiceOption', () => {
  it('returns an allowed value', () => {
    expect(parseChoiceOption('status', 'failed', STATUSES)).toBe('failed');
  });

  it('trims surrounding whitespace', () => {
    expect(parseChoiceOption('status', ' ignored ', STATUSES)).toBe('ignored');
  });

  it('returns undefined for a missing option', () => {
    expect(parseChoiceOption('status', undefined, STATUSES)).toBeUndefined();
  });

  it('lists the allowed values for another value', () => {
    let error: unknown;
    try {
      parseChoiceOption('status', 'bogus', STATUSES);
    } catch (thrown) {
      error = thrown;
    }

    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('validation_failed');
    expect((error as DomainError).errors).toEqual([{ field: 'status', message: 'must be one of failed, ignored or processed (got "bogus")' }]);
  });
});
