import { checkEmail, checkName, checkSlug, checkTimeZone, normalizeEmail, normalizeTimeZone } from './tenant-validation';

describe('name validation', () => {
  it('rejects a blank name as blank', () => {
    expect(checkName('   ')).toEqual([{ field: 'name', message: 'must not be blank' }]);
  });

  it.each([
    ['a zero-width space', '\u200b'],
    ['a word joiner and a byte order mark', '\u2060\ufeff'],
    ['a soft hyphen', '\u00ad'],
    ['left-to-right marks', '\u200e\u200e'],
    ['a Hangul filler', '\u3164'],
    ['a next-line character', '\u0085'],
    ['spaces around a zero-width joiner', ' \u200d\u00a0'],
  ])('rejects a name of only %s as blank', (_case, name) => {
    expect(checkName(name)).toEqual([{ field: 'name', message: 'must not be blank' }]);
  });

  it('accepts a zero-width space between letters', () => {
    expect(checkName('Acme\u200bTraining')).toEqual([]);
  });

  it('rejects an invisible label by its field', () => {
    expect(checkName('\u200b', 'label')).toEqual([{ field: 'label', message: 'must not be blank' }]);
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

  it.each(['owner', 'owner@', '@example.com', 'owner@example', 'own er@example.com', 'owner\u200b@example.com', '\u200b@example.com', 'owner@exa\u2060mple.com'])('rejects %j', (email) => {
    expect(checkEmail(email)).toEqual([{ field: 'email', message: 'must be an email address' }]);
  });
});
