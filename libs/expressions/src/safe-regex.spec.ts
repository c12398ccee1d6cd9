import { GuardedRegExp, MAX_REGEX_SUBJECT_LENGTH, UnsafeRegexError, unsafeRegexReason } from './safe-regex';

const reason = (re: RegExp) => unsafeRegexReason(re.source, re.ignoreCase);

describe('unsafeRegexReason', () => {
  it.each([
    /(a+)+$/,
    /(a*)*b/,
    /(a+)*/,
    /(a?)+/,
    /(\w+\s?)*$/,
    /^(([a-z])+.)+[A-Z]([a-z])+$/,
    /((a+))+/,
    /(?:a+){2,}/,
    /(a+){1,10}/,
    /(?<word>\d+)+/,
    /(a|aa)+/,
    /(a|a)*/,
    /(a|b|ab)*c/,
    /(.|a)+/,
    /(A|a)+/i,
    /((a|ab))*/,
    /(a+?)+/,
  ])('refuses %s', (re) => {
    expect(reason(re)).toEqual(expect.any(String));
  });

  it.each([
    /ab+c/i,
    /^\d{4}-\d{2}-\d{2}$/,
    /(cat|dog)+/,
    /(A|a)+/,
    /(a+)?b/,
    /(ab)+/,
    /[(a+)+]/,
    /\(a+\)+/,
    /(?:\.com|\.org)$/,
    /^[\w.+-]+@[\w-]+\.[\w.]+$/,
    /a{2}b{1,3}/,
    /x(a{1})+/,
    /(?=a)b/,
    /\[(\d+)\]/g,
  ])('accepts %s', (re) => {
    expect(reason(re)).toBeUndefined();
  });
});

describe('GuardedRegExp', () => {
  it('throws a VALIDATION_ERROR for a refused pattern, when built', () => {
    let err: unknown;
    try {
      new GuardedRegExp(/(a+)+$/g);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsafeRegexError);
    expect((err as UnsafeRegexError).code).toBe('VALIDATION_ERROR');
  });

  it('behaves like the RegExp it wraps (flags, lastIndex, exec)', () => {
    const re = new GuardedRegExp(/ab+c/gi);
    re.lastIndex = 0;
    expect(re.exec('xABCy abbc')?.[0]).toBe('ABC');
    expect(re.lastIndex).toBe(4);
    expect(re.exec('xABCy abbc')?.index).toBe(6);
    expect(re.exec('xABCy abbc')).toBeNull();
  });

  it('finishes a polynomial pattern the syntax check lets through on the longest subject (rerun in linear time)', () => {
    // Backtracking alone takes hours here (three nested scans of 100,000 spaces); jest's timeout bounds the test.
    const re = new GuardedRegExp(/\s*\s*$/);
    const subject = `${' '.repeat(MAX_REGEX_SUBJECT_LENGTH - 1)}x`;
    expect(re.exec(subject)?.index).toBe(MAX_REGEX_SUBJECT_LENGTH);
    expect(new GuardedRegExp(/\s*\s*\s*y/).exec(subject)).toBeNull();
    // Case-insensitive too (JSONata's /.../i): the linear engine refuses the i flag, so the letters are folded first.
    const caseless = new GuardedRegExp(/\s*\s*Y$/i);
    expect(caseless.exec(subject)).toBeNull();
    expect(caseless.exec('  xy')?.index).toBe(3);
  });

  it('bounds the subject', () => {
    const re = new GuardedRegExp(/b/g);
    expect(re.exec('a'.repeat(MAX_REGEX_SUBJECT_LENGTH))).toBeNull();
    expect(() => re.exec('a'.repeat(MAX_REGEX_SUBJECT_LENGTH + 1))).toThrow(UnsafeRegexError);
  });
});
