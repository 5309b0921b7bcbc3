import { describeError } from './error-description';

describe('describeError', () => {
  it('keeps name and message of an Error', () => {
    expect(describeError(new TypeError('bad input'))).toEqual({ name: 'TypeError', message: 'bad input' });
  });

  it('reads an error-like object', () => {
    expect(describeError({ message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' })).toEqual({ name: 'Error', message: 'connect ECONNREFUSED' });
  });

  it('describes a thrown string', () => {
    expect(describeError('boom')).toEqual({ name: 'string', message: 'boom' });
  });
});
