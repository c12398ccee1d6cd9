/** Escapes whose meaning does not depend on case (character sets, anchors, control characters). */
const CASELESS_ESCAPES = new Set([...'dDwWsSbBfnrtv']);
/** The same inside a class, where `\b` is a backspace and `\B` the letter B (non-unicode mode). */
const CASELESS_CLASS_ESCAPES = new Set([...'dDwWsSbfnrtv']);

const isLower = (c: string) => c >= 'a' && c <= 'z';
const isUpper = (c: string) => c >= 'A' && c <= 'Z';
const isLetter = (c: string) => isLower(c) || isUpper(c);

/**
 * `source` rewritten to match without the `i` flag exactly what it matches with it (non-unicode
 * mode, where ASCII letters fold only to ASCII letters): `a` becomes `[aA]`, `[a-f]` becomes
 * `[a-fA-F]`. V8's linear-time engine refuses the `i` flag, so only a rewritten pattern can fall
 * back to it. Undefined when the pattern holds something this does not rewrite: a non-ASCII
 * character, an escape naming a character by code or a letter, a backreference, or a class range
 * that covers some letters but not their other case.
 */
export function foldCase(source: string): string | undefined {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c.charCodeAt(0) >= 0x80) return undefined;
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined || n.charCodeAt(0) >= 0x80) return undefined;
      if (/[a-zA-Z0-9]/.test(n) && !(inClass ? CASELESS_CLASS_ESCAPES : CASELESS_ESCAPES).has(n)) return undefined;
      // An escape as a range end (`[\--a]`): its span is not checked here.
      if (inClass && source[i + 2] === '-' && source[i + 3] !== undefined && source[i + 3] !== ']') return undefined;
      out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') {
        inClass = false;
        out += c;
        continue;
      }
      const hi = source[i + 2];
      if (source[i + 1] === '-' && hi !== undefined && hi !== ']') {
        const range = foldRange(c, hi);
        if (range === undefined) return undefined;
        out += range;
        i += 2;
        continue;
      }
      out += isLetter(c) ? c.toLowerCase() + c.toUpperCase() : c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (source[i + 1] === '^') {
        out += '^';
        i++;
      }
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const kind = source[i + 2] ?? '';
      // Modifier groups (`(?i:`, `(?-i:`, newer engines) are not rewritten.
      if (!':=!<'.includes(kind)) return undefined;
      if (kind === '<' && source[i + 3] !== '=' && source[i + 3] !== '!') {
        // A group name is copied as written.
        const end = source.indexOf('>', i);
        if (end < 0) return undefined;
        out += source.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    out += isLetter(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c;
  }
  return out;
}

/** A class range `lo-hi` folded, or undefined when it covers some letters of a case but not all. */
function foldRange(lo: string, hi: string): string | undefined {
  if (hi.charCodeAt(0) >= 0x80 || hi === '\\') return undefined;
  if (isLower(lo) && isLower(hi)) return `${lo}-${hi}${lo.toUpperCase()}-${hi.toUpperCase()}`;
  if (isUpper(lo) && isUpper(hi)) return `${lo}-${hi}${lo.toLowerCase()}-${hi.toLowerCase()}`;
  const covers = (from: string, to: string) => lo <= to && hi >= from;
  const whole = (from: string, to: string) => lo <= from && hi >= to;
  // Letters of neither case, or every letter of both: the same set with or without `i`.
  if (!covers('A', 'Z') && !covers('a', 'z')) return `${lo}-${hi}`;
  if (whole('A', 'Z') && whole('a', 'z')) return `${lo}-${hi}`;
  return undefined;
}
