import { RegexSandbox, regexSandbox, runsInLinearTime, REGEX_MATCH_BUDGET_MS } from './regex-sandbox';
import { GuardedRegExp, MAX_REGEX_SUBJECT_LENGTH, UnsafeRegexError } from './safe-regex';

/** Every match of `re` over `s` as [index, match, ...groups, lastIndex], the way JSONata iterates a `g` regex. */
function allMatches(re: { lastIndex: number; exec(s: string): RegExpExecArray | null }, s: string): unknown[] {
  const out: unknown[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(s); m && out.length < 50; m = re.exec(s)) {
    out.push([m.index, ...m, m.groups ?? null, re.lastIndex]);
    if (m[0] === '') re.lastIndex++;
  }
  return out;
}

describe('runsInLinearTime', () => {
  it.each([/\s*\s*$/, /a*b/g, /^x.*y$/ms, /\s{0,16}x/, /(?<n>a)b/])('takes %s', (re) => {
    expect(runsInLinearTime(re)).toBe(true);
  });
  it.each([/(?=a)\s*$/, /(?<=a)b/, /(\s*)\1$/, /\s{0,100}x/, /a*b/u, /a*b/i, /a*b/d])('sends %s to the sandbox', (re) => {
    expect(runsInLinearTime(re)).toBe(false);
  });
});

describe('GuardedRegExp with patterns the linear engine cannot run', () => {
  const subject = 'key=value; id=42; ID=7; path=/a/b; id=42 x';
  it.each([
    /(?<=id=)\d+/g,
    /\b(\w+)=\w+; \1/g,
    /(?<key>id|ID)=(?<val>\d+)(?=;)/g,
    /[a-z]{1,40}=/g,
    /ID=\d/gi,
    /(?!id)[a-z]+=/g,
    /p\u{61}th/gu,
  ])('matches %s exactly as V8 does (index, groups, named groups, lastIndex)', (re) => {
    expect(runsInLinearTime(re)).toBe(false);
    expect(allMatches(new GuardedRegExp(re), subject)).toEqual(allMatches(new RegExp(re.source, re.flags), subject));
  });

  it('refuses a polynomial match it cannot finish within the budget, and keeps working after', () => {
    // On the main thread this backtracks for hours (a lookahead keeps it off the linear engine).
    const slow = new GuardedRegExp(/(?=\s)\s*\s*\s*y$/);
    const started = Date.now();
    let err: unknown;
    try {
      slow.exec(`${' '.repeat(MAX_REGEX_SUBJECT_LENGTH - 1)}x`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsafeRegexError);
    expect((err as UnsafeRegexError).code).toBe('VALIDATION_ERROR');
    expect((err as UnsafeRegexError).message).toMatch(new RegExp(`took longer than ${REGEX_MATCH_BUDGET_MS} ms`));
    expect(Date.now() - started).toBeLessThan(REGEX_MATCH_BUDGET_MS + 5_000);
    // The abandoned match is gone with its thread: the next one starts a fresh sandbox.
    expect(slow.exec('   y')?.index).toBe(0);
    expect(new GuardedRegExp(/(?<=a)b/).exec('ab')?.index).toBe(1);
  });

  it('matches from the given lastIndex and returns the new one (a sandbox of its own, stopped after)', () => {
    const sandbox = new RegexSandbox(1_000);
    try {
      const found = sandbox.exec(/(?<=x)y/g, 'xy xy', 2);
      expect(found.kind === 'done' && found.match && [found.match.index, [...found.match], found.lastIndex]).toEqual([4, ['y'], 5]);
      expect(sandbox.exec(/(?<=x)y/g, 'xy', 2)).toEqual({ kind: 'done', match: null, lastIndex: 0 });
    } finally {
      sandbox.stop();
    }
  });

  afterAll(() => regexSandbox.stop());
});
