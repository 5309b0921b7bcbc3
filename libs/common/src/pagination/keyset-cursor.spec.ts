import { DomainError } from '../errors/domain-error';
import { decodeCursor, encodeCursor } from './keyset-cursor';

describe('keyset cursor', () => {
  const position = { createdAt: '2026-12-04T19:35:00.123456Z', id: '0b9f3c1e-6a55-4f4e-9d7e-1c2b3a4d5e6f' };

  it('round-trips a position', () => {
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
  });

  it('rejects text that is not base64 JSON', () => {
    expect(() => decodeCursor('not a cursor')).toThrow(DomainError);
  });

  it('rejects a cursor without microseconds', () => {
    const cursor = Buffer.from(JSON.stringify(['2026-12-04T19:35:00.123Z', position.id])).toString('base64url');

    expect(() => decodeCursor(cursor)).toThrow(DomainError);
  });

  it('rejects a cursor with a malformed id', () => {
    const cursor = Buffer.from(JSON.stringify([position.createdAt, 'x'])).toString('base64url');

    expect(() => decodeCursor(cursor)).toThrow(DomainError);
  });

  it('names the cursor field in the error', () => {
    let caught: unknown;
    try {
      decodeCursor('%%%');
    } catch (error) {
      caught = error;
    }

    expect((caught as DomainError).errors).toEqual([{ field: 'cursor', message: 'is not a cursor returned by this list' }]);
  });
});
