import { isEmailAddress } from './email-address';

describe('isEmailAddress', () => {
  it.each(['owner@acme.example', 'first.last+tag@sub.acme.example'])('accepts %s', (email) => {
    expect(isEmailAddress(email)).toBe(true);
  });

  it.each([
    ['no domain', 'owner@'],
    ['a zero-width space in the local part', 'owner\u200b@acme.example'],
    ['a local part of a zero-width space', '\u200b@acme.example'],
    ['a soft hyphen in the domain', 'owner@acme\u00ad.example'],
    ['a control character', 'owner\u0007@acme.example'],
  ])('rejects %s', (_case, email) => {
    expect(isEmailAddress(email)).toBe(false);
  });
});
