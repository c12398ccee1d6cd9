import { setFlagsFromString } from 'node:v8';
import { foldCase } from './case-fold';
import { RegexCursor, regexSandbox, runsInLinearTime, sandboxRefusal } from './regex-sandbox';

/**
 * A match that backtracks more than this many times is rerun on V8's linear-time regexp engine.
 * Process-wide, set when this module loads (before any user pattern is compiled): the syntax check
 * below refuses exponential patterns, and this bounds the polynomial ones it lets through
 * (`\s*\s*$` on 100,000 spaces: about 0.1 s instead of hours). Ordinary matches never get near
 * the limit. Patterns that engine cannot run (lookaround, backreferences, a counted repetition above
 * 16, the `u` flag, an `i` that {@link foldCase} cannot rewrite) are matched in the
 * {@link regexSandbox} instead, with a time budget.
 */
export const REGEX_BACKTRACKS_BEFORE_LINEAR = 1_000;
setFlagsFromString(`--regexp-backtracks-before-fallback=${REGEX_BACKTRACKS_BEFORE_LINEAR}`);
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

/** Longest string a JSONata regex is run against (UTF-16 code units). */
export const MAX_REGEX_SUBJECT_LENGTH = 100_000;

/** A regex refused before it runs: it could backtrack for minutes, or its subject is too long. */
export class UnsafeRegexError extends Error {
  readonly code = 'VALIDATION_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeRegexError';
  }
}

/**
 * The `RegexEngine` JSONata builds its regex literals with (`new RegexEngine(literal)`, then
 * `lastIndex` and `exec` only; `$eval`'d expressions included). V8's backtracking engine cannot be
 * interrupted, and JSONata's time limit is only checked between evaluation steps, so a pattern that
 * backtracks exponentially (`/(a+)+$/`) would freeze the event loop: such patterns are refused when
 * the literal is evaluated (see {@link unsafeRegexReason}), and subjects are bounded.
 */
export class GuardedRegExp {
  private readonly re: RegExp;
  /** The pattern as written (messages name it, not its case-folded form). */
  private readonly source: string;
  /** V8's linear-time engine can take over `re` (else it is matched in the sandbox). */
  private readonly linear: boolean;
  /** This use's sandbox time and matches computed ahead: all its matches share one budget (a `$match` asks for each in turn). */
  private readonly cursor = new RegexCursor();

  constructor(pattern: RegExp | string, flags?: string) {
    const re = pattern instanceof RegExp ? new RegExp(pattern.source, flags ?? pattern.flags) : new RegExp(pattern, flags);
    const plan = planFor(re);
    if (plan.reason) throw new UnsafeRegexError(`regular expression /${re.source}/ refused: ${plan.reason}`);
    this.source = re.source;
    this.re = plan.source === re.source && plan.flags === re.flags ? re : new RegExp(plan.source, plan.flags);
    this.linear = plan.linear;
    if (!this.linear) regexSandbox.prepare();
  }

  get lastIndex(): number {
    return this.re.lastIndex;
  }

  set lastIndex(value: number) {
    this.re.lastIndex = value;
  }

  exec(subject: string): RegExpExecArray | null {
    const s = String(subject);
    if (s.length > MAX_REGEX_SUBJECT_LENGTH) {
      throw new UnsafeRegexError(`regular expression /${this.source}/ refused: subject longer than ${MAX_REGEX_SUBJECT_LENGTH} characters`);
    }
    if (this.linear) return this.re.exec(s);
    const run = regexSandbox.exec(this.re, s, this.re.lastIndex, this.cursor);
    if (run.kind !== 'done') throw new UnsafeRegexError(`regular expression /${this.source}/ refused: ${sandboxRefusal(run.kind)}`);
    this.re.lastIndex = run.lastIndex;
    return run.match;
  }
}

/** What a pattern needs, worked out once per flags and source. */
interface Plan {
  /** Why it is refused ({@link unsafeRegexReason}), if it is. */
  readonly reason?: string;
  /**
   * The pattern it runs as: without `i`, its letters folded ({@link foldCase}), where that can be
   * done, so that a match backtracking past the limit can rerun on the linear engine (which refuses `i`).
   */
  readonly source: string;
  readonly flags: string;
  /** V8's linear-time engine can take over (else it is matched in the sandbox). */
  readonly linear: boolean;
}

const PLAN_CACHE_LIMIT = 500;
/** Plans by flags and source: a literal inside a mapped expression is built once per item. */
const plans = new Map<string, Plan>();

function planFor(re: RegExp): Plan {
  const key = `${re.flags}/${re.source}`;
  let plan = plans.get(key);
  if (!plan) {
    plan = makePlan(re);
    if (plans.size >= PLAN_CACHE_LIMIT) plans.delete(plans.keys().next().value as string);
    plans.set(key, plan);
  }
  return plan;
}

function makePlan(re: RegExp): Plan {
  const reason = unsafeRegexReason(re.source, re.ignoreCase);
  if (reason) return { reason, source: re.source, flags: re.flags, linear: false };
  // `u` / `v` fold case by Unicode rules, which foldCase does not model.
  const folded = re.ignoreCase && !/[uv]/.test(re.flags) ? foldCase(re.source) : undefined;
  const run = folded === undefined ? re : new RegExp(folded, re.flags.replace('i', ''));
  return { source: run.source, flags: run.flags, linear: runsInLinearTime(run) };
}

interface Group {
  /** Some atom inside (at any depth) has a quantifier. */
  quantified: boolean;
  /** Literal prefix of each top-level alternative. */
  prefixes: string[];
  /** Some alternation inside (at any depth) has alternatives that can match at the same place. */
  ambiguous: boolean;
}

/**
 * Why a JavaScript regex source may backtrack exponentially, or undefined. Conservative (some
 * harmless patterns are refused too), and a syntax check only: a group repeated by `*`, `+`,
 * `{n,}` or `{n,m}` (m > 1) may not contain a quantifier (`(a+)+`, `(a*)*`, `(\w+\s?)*`), nor
 * (at any depth) alternatives that can match at the same place, i.e. whose literal prefixes do not
 * tell them apart (`(a|aa)+`, `((a|ab)c)*`, `(\d|x)*`; `(cat|dog)+` is fine).
 */
export function unsafeRegexReason(source: string, ignoreCase = false): string | undefined {
  const fold = (c: string) => (ignoreCase ? c.toLowerCase() : c);
  let i = 0;
  let failure: string | undefined;

  /** Parses alternatives until `)` or the end; returns the group's summary. */
  const parseGroup = (): Group => {
    const group: Group = { quantified: false, prefixes: [], ambiguous: false };
    let prefix = '';
    let prefixOpen = true;
    /** The last atom: a literal char (still in the prefix?), another atom, or a group. */
    let last: { kind: 'char'; inPrefix: boolean } | { kind: 'atom' } | { kind: 'group'; group: Group } | undefined = undefined;
    const literal = (ch: string): { kind: 'char'; inPrefix: boolean } => {
      if (!prefixOpen) return { kind: 'char', inPrefix: false };
      prefix += fold(ch);
      return { kind: 'char', inPrefix: true };
    };
    while (i < source.length && !failure) {
      const c = source[i]!;
      if (c === ')') break;
      if (c === '|') {
        group.prefixes.push(prefix);
        prefix = '';
        prefixOpen = true;
        last = undefined;
        i++;
        continue;
      }
      const quantifier = readQuantifier(source, i);
      if (quantifier) {
        i = quantifier.end;
        if (source[i] === '?') i++; // lazy: same backtracking
        if (!last) continue; // nothing to repeat (a syntax error the RegExp constructor reports)
        if (quantifier.min !== 1 || quantifier.repeats) group.quantified = true; // `{1}` changes nothing
        if (last.kind === 'group') {
          const inner = last.group;
          if (quantifier.repeats && inner.quantified) failure = 'a repeated group contains a quantifier (nested quantifiers backtrack exponentially)';
          else if (quantifier.repeats && inner.ambiguous) failure = 'a repeated group has alternatives that can match the same text';
        } else if (last.kind === 'char' && last.inPrefix) {
          // `ab*`: b is not certain; `ab+`: it is, but nothing after it is.
          if (quantifier.min === 0) prefix = prefix.slice(0, -1);
          prefixOpen = false;
        }
        last = { kind: 'atom' };
        continue;
      }
      if (c === '(') {
        i++;
        if (source[i] === '?') {
          i++;
          if (source[i] === '<' && source[i + 1] !== '=' && source[i + 1] !== '!') {
            const close = source.indexOf('>', i);
            i = close < 0 ? source.length : close + 1;
          } else if (source[i] === '<') i += 2;
          else i++; // ':', '=', '!'
        }
        const inner = parseGroup();
        i++; // ')'
        if (inner.quantified) group.quantified = true;
        if (inner.ambiguous) group.ambiguous = true;
        prefixOpen = false;
        last = { kind: 'group', group: inner };
        continue;
      }
      if (c === '[') {
        i = classEnd(source, i);
        prefixOpen = false;
        last = { kind: 'atom' };
        continue;
      }
      if (c === '\\') {
        const e = source[i + 1] ?? '';
        i += 2;
        if (/[A-Za-z0-9]/.test(e)) {
          // Classes, assertions, backreferences, \x \u \c \k \p escapes: not a plain literal.
          prefixOpen = false;
          last = { kind: 'atom' };
        } else {
          last = literal(e);
        }
        continue;
      }
      i++;
      if (c === '^' || c === '$') continue; // zero-width, repeats nothing
      if (c === '.') {
        prefixOpen = false;
        last = { kind: 'atom' };
        continue;
      }
      last = literal(c);
    }
    group.prefixes.push(prefix);
    if (overlapping(group.prefixes)) group.ambiguous = true;
    return group;
  };

  while (i < source.length && !failure) {
    parseGroup();
    i++; // an unbalanced ')': the RegExp constructor already refused it; keep scanning anyway
  }
  return failure;
}

/** A quantifier starting at `i`: `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (anything else is a literal). */
function readQuantifier(source: string, i: number): { end: number; min: number; repeats: boolean } | undefined {
  const c = source[i];
  if (c === '*') return { end: i + 1, min: 0, repeats: true };
  if (c === '+') return { end: i + 1, min: 1, repeats: true };
  if (c === '?') return { end: i + 1, min: 0, repeats: false };
  if (c !== '{') return undefined;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i, i + 32));
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
  return { end: i + m[0].length, min, repeats: max > 1 };
}

/** Index just past the character class opening at `i` (`[...]`, escapes honoured). */
function classEnd(source: string, i: number): number {
  let j = i + 1;
  if (source[j] === '^') j++;
  while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
  return j + 1;
}

/** True when two alternatives cannot be told apart by their literal prefixes (one is a prefix of the other, the empty one included). */
function overlapping(prefixes: readonly string[]): boolean {
  if (prefixes.length < 2) return false;
  for (let a = 0; a < prefixes.length; a++) {
    for (let b = a + 1; b < prefixes.length; b++) {
      const [x, y] = [prefixes[a]!, prefixes[b]!];
      if (x.startsWith(y) || y.startsWith(x)) return true;
    }
  }
  return false;
}
