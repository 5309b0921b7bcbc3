import { validateSync } from 'class-validator';
import { IsNotBlank, isBlank } from './blank-text';

describe('isBlank', () => {
  it.each([
    ['empty', ''],
    ['spaces', '   '],
    ['tabs and newlines', '\t\r\n\v\f'],
    ['no-break spaces', '\u00a0\u202f'],
    ['an ideographic space', '\u3000'],
    ['a next-line character', '\u0085'],
    ['line and paragraph separators', '\u2028\u2029'],
    ['a zero-width space', '\u200b'],
    ['zero-width joiners', '\u200c\u200d'],
    ['a word joiner', '\u2060'],
    ['a byte order mark', '\ufeff'],
    ['a soft hyphen', '\u00ad'],
    ['direction marks', '\u200e\u200f\u061c'],
    ['bidirectional controls', '\u202a\u202e\u2066\u2069'],
    ['a variation selector', '\ufe0f'],
    ['a Hangul filler', '\u3164'],
    ['a tag character', '\u{e0041}'],
    ['control characters', '\u0001\u0008\u001f'],
    ['a delete character', '\u007f'],
    ['C1 control characters', '\u0080\u009f'],
    ['a Braille blank', '\u2800'],
    ['noncharacters', '\uffff\ufffe\u{10ffff}'],
    ['an unassigned code point', '\u0378'],
    ['combining marks without a base', '\u0301\u0308\u0327'],
    ['a combining mark on a zero-width space', '\u200b\u0301'],
    ['a mix', ' \u200b\u00a0\t\u2060 '],
  ])('finds %s blank', (_case, text) => {
    expect(isBlank(text)).toBe(true);
  });

  it.each([
    ['a letter', 'a'],
    ['a digit', '0'],
    ['a dot', '.'],
    ['a letter between spaces', ' a '],
    ['a letter after a zero-width space', '\u200ba'],
    ['a letter with a combining accent', 'e\u0301'],
    ['a CJK character', '中'],
    ['an emoji', '🔑'],
  ])('finds %s not blank', (_case, text) => {
    expect(isBlank(text)).toBe(false);
  });
});

class RequiredText {
  @IsNotBlank()
  text!: unknown;
}

class OptionalText {
  @IsNotBlank({ allowEmpty: true })
  text!: unknown;
}

function messagesOf(target: object): string[] {
  return validateSync(target).flatMap((error) => Object.values(error.constraints ?? {}));
}

describe('IsNotBlank', () => {
  it('rejects an empty required text', () => {
    expect(messagesOf(Object.assign(new RequiredText(), { text: '' }))).toEqual(['must not be blank']);
  });

  it('rejects an invisible required text', () => {
    expect(messagesOf(Object.assign(new RequiredText(), { text: '\u200b' }))).toEqual(['must not be blank']);
  });

  it('accepts an empty optional text', () => {
    expect(messagesOf(Object.assign(new OptionalText(), { text: '' }))).toEqual([]);
  });

  it('rejects an invisible optional text', () => {
    expect(messagesOf(Object.assign(new OptionalText(), { text: ' \u200b ' }))).toEqual(['must not be blank']);
  });

  it('leaves other types to the type check', () => {
    expect(messagesOf(Object.assign(new RequiredText(), { text: 42 }))).toEqual([]);
  });
});
