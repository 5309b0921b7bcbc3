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
    ['a Braille blank', 'own\u2800er@acme.example'],
    ['an unassigned code point', 'owner\u0378@acme.example'],
    ['a noncharacter in the domain', 'owner@acme\uffff.example'],
    ['an em space', 'own\u2003er@acme.example'],
    ['an ideographic space', 'owner@acme.example\u3000'],
  ])('rejects %s', (_case, email) => {
    expect(isEmailAddress(email)).toBe(false);
  });
});
