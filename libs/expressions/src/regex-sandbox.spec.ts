import { RegexCursor, RegexSandbox, regexSandbox, runsInLinearTime, REGEX_MATCH_BUDGET_MS } from './regex-sandbox';
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
    expect(new GuardedRegExp(/(?=\s)\s*\s*\s*y$/).exec("   y")?.index).toBe(0);
    expect(new GuardedRegExp(/(?<=a)b/).exec('ab')?.index).toBe(1);
  });

  it('matches from the given lastIndex and returns the new one; request ids wrap before the shared word overflows', () => {
    const sandbox = new RegexSandbox();
    try {
      const found = sandbox.exec(/(?<=x)y/g, 'xy xy', 2, new RegexCursor());
      expect(found.kind === 'done' && found.match && [found.match.index, [...found.match], found.lastIndex]).toEqual([4, ['y'], 5]);
      expect(sandbox.exec(/(?<=x)y/g, 'xy', 2, new RegexCursor())).toEqual({ kind: 'done', match: null, lastIndex: 0 });
      (sandbox as unknown as { nextId: number }).nextId = 0x7ffffffd;
      for (let i = 0; i < 3; i++) expect(sandbox.exec(/(?<=x)y/, `xy${i}`, 0, new RegexCursor()).kind).toBe('done');
      expect(sandbox.exec(/(?<=x)y/, 'xy', 0, new RegexCursor(0))).toEqual({ kind: 'over-budget' });
      // More subjects than the thread keeps, in turn: each is sent again when it was dropped.
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 12; i++) {
          const r = sandbox.exec(/(?<=x)y/, `${'-'.repeat(i)}xy`, 0, new RegexCursor());
          expect(r.kind === 'done' && r.match?.index).toBe(i + 1);
        }
      }
    } finally {
      sandbox.stop();
    }
  });

  it('iterates every match of a long subject within the budget (matches computed ahead), captures as offsets', () => {
    const subject = 'a'.repeat(MAX_REGEX_SUBJECT_LENGTH);
    const re = new GuardedRegExp(/(?<=a)a/g);
    let n = 0;
    for (let m = re.exec(subject); m; m = re.exec(subject)) n++;
    expect(n).toBe(MAX_REGEX_SUBJECT_LENGTH - 1);
    // A capture of the rest of the subject at every position: the sandbox sends two numbers per group, not the text.
    const rest = new GuardedRegExp(/x(?=(.*))/g);
    const xs = 'x'.repeat(2_000);
    const lengths: number[] = [];
    for (let m = rest.exec(xs); m; m = rest.exec(xs)) lengths.push(m[1]!.length);
    expect(lengths).toEqual(Array.from({ length: 2_000 }, (_, i) => 1_999 - i));
  });

  it('interleaved iterations over long subjects each keep their own matches computed ahead', () => {
    // JSONata awaits between the matches of a $match: two evaluations' iterations interleave.
    const a = { re: new GuardedRegExp(/(?<=a)b/g), s: 'ab'.repeat(MAX_REGEX_SUBJECT_LENGTH / 2) };
    const b = { re: new GuardedRegExp(/(?<=c)d/g), s: 'cd'.repeat(MAX_REGEX_SUBJECT_LENGTH / 2) };
    const counts = [0, 0];
    const next = [a.re.exec(a.s), b.re.exec(b.s)];
    while (next[0] || next[1]) {
      if (next[0]) (counts[0]++, (next[0] = a.re.exec(a.s)));
      if (next[1]) (counts[1]++, (next[1] = b.re.exec(b.s)));
    }
    expect(counts).toEqual([MAX_REGEX_SUBJECT_LENGTH / 2, MAX_REGEX_SUBJECT_LENGTH / 2]);
  });

  it('does not charge a caller for a slow match computed ahead that nobody asked for', () => {
    // Matches 1 and 2 are instant; a third would backtrack for seconds. Asking for two (JSONata's
    // `$match(s, re, 1)` asks for the second one) must not wait for the third, nor make the next use pay for it.
    const subject = `aa${' '.repeat(3_000)}`;
    const re = new GuardedRegExp(/a|(?=\s)\s*\s*!/g);
    const started = Date.now();
    expect(re.exec(subject)?.index).toBe(0);
    expect(re.exec(subject)?.index).toBe(1);
    expect(new GuardedRegExp(/(?<=x)y/).exec('xy')?.index).toBe(1);
    expect(Date.now() - started).toBeLessThan(REGEX_MATCH_BUDGET_MS);
  });

  it('gives all the matches of one regex one budget: many quick ones that add up are refused too', () => {
    const re = new GuardedRegExp(/(?=a)a*a*a*b|c/g);
    const subject = `${'a'.repeat(300)}c`.repeat(40);
    const started = Date.now();
    expect(() => {
      for (let m = re.exec(subject); m; m = re.exec(subject));
    }).toThrow(/its matches took longer than/);
    expect(Date.now() - started).toBeLessThan(REGEX_MATCH_BUDGET_MS + 3_000);
  });

  it('runs a pattern with many quantifiers in the sandbox (the linear engine is slow on it too)', () => {
    const many = new RegExp(`${'\\s*'.repeat(40)}y$`);
    expect(runsInLinearTime(many)).toBe(false);
    expect(runsInLinearTime(new RegExp(`${'\\s*'.repeat(8)}y$`))).toBe(true);
    expect(() => new GuardedRegExp(many).exec(`${' '.repeat(MAX_REGEX_SUBJECT_LENGTH - 1)}x`)).toThrow(UnsafeRegexError);
  });

  afterAll(() => regexSandbox.stop());
});
