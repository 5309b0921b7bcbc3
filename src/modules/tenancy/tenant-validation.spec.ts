import { checkEmail, checkName, checkSlug, checkTimeZone, normalizeEmail, normalizeTimeZone } from './tenant-validation';

describe('name validation', () => {
  it('rejects a blank name as blank', () => {
    expect(checkName('   ')).toEqual([{ field: 'name', message: 'must not be blank' }]);
  });
});

describe('slug validation', () => {
  it.each(['ab', 'acme', 'acme-training-2', '--', '0-9', 'a'.repeat(63)])('accepts %s', (slug) => {
    expect(checkSlug(slug)).toEqual([]);
  });

  it.each(['a', 'a'.repeat(64), 'Acme', 'acme_training', 'acme training', 'acmé', '', 'acme.io'])('rejects "%s"', (slug) => {
    expect(checkSlug(slug)).toEqual([{ field: 'slug', message: 'must be 2 to 63 lower-case letters, digits or hyphens' }]);
  });
});

describe('time zone validation', () => {
  it.each([
    ['America/Chicago', 'America/Chicago'],
    ['Europe/Berlin', 'Europe/Berlin'],
    ['UTC', 'UTC'],
    ['utc', 'UTC'],
    ['america/chicago', 'America/Chicago'],
    ['  Asia/Tokyo ', 'Asia/Tokyo'],
    ['US/Central', 'US/Central'],
    ['Etc/GMT+5', 'Etc/GMT+5'],
  ])('stores %s as %s', (input, stored) => {
    expect(normalizeTimeZone(input)).toBe(stored);
  });

  it.each(['Mars/Olympus_Mons', '+05:00', '-0600', '', 'America/Chicago; DROP TABLE', 'A'.repeat(65)])('rejects "%s"', (input) => {
    expect(checkTimeZone(input)).toEqual([{ field: 'timeZone', message: 'must be an IANA time zone name such as America/Chicago' }]);
  });
});

describe('email validation', () => {
  it('lower-cases and trims emails', () => {
    expect(normalizeEmail('  Owner@Example.COM ')).toBe('owner@example.com');
  });

  it.each(['owner@example.com', 'first.last+tag@sub.example.org'])('accepts %s', (email) => {
    expect(checkEmail(email)).toEqual([]);
  });

  it.each(['owner', 'owner@', '@example.com', 'owner@example', 'own er@example.com'])('rejects "%s"', (email) => {
    expect(checkEmail(email)).toEqual([{ field: 'email', message: 'must be an email address' }]);
  });
});
