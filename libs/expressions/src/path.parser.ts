/** Outcome of parsing a path like `steps.a.output.items[0].name`: its segments, root first. */
export type ParsedPath =
  | { readonly ok: true; readonly segments: readonly string[] }
  | { readonly ok: false; readonly message: string; readonly position: number };

/** Longest path accepted; longer ones are a syntax error (a guard, not a real limit). */
export const MAX_PATH_LENGTH = 1000;

const CACHE_LIMIT = 2000;
const cache = new Map<string, ParsedPath>();

const isIdentStart = (c: string): boolean => /^[A-Za-z_$]$/.test(c);
const isSegmentChar = (c: string): boolean => /^[A-Za-z0-9_$-]$/.test(c);

/**
 * Parses a dotted path. Grammar: `root ( '.' segment | '[' digits ']' | '[' quoted-key ']' )*`, where
 * root is an identifier, a segment is letters/digits/`_`/`$`/`-` (so `input.history.0` and step ids
 * with dashes work) and a quoted key is `'...'` or `"..."` without the quote inside. Surrounding
 * whitespace is ignored; positions are offsets into the given string.
 */
export function parsePath(path: string): ParsedPath {
  const cached = cache.get(path);
  if (cached) return cached;
  const parsed = parseUncached(path);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(path, parsed);
  return parsed;
}

function parseUncached(path: string): ParsedPath {
  if (path.length > MAX_PATH_LENGTH) return fail(`path longer than ${MAX_PATH_LENGTH} characters`, 0);
  let i = 0;
  let end = path.length;
  while (i < end && /\s/.test(path[i])) i++;
  while (end > i && /\s/.test(path[end - 1])) end--;
  if (i === end) return fail('empty path', i);
  if (!isIdentStart(path[i])) return fail(`path must start with a name, found '${path[i]}'`, i);
  const segments: string[] = [];
  let start = i;
  while (i < end && isSegmentChar(path[i])) i++;
  segments.push(path.slice(start, i));
  while (i < end) {
    const c = path[i];
    if (c === '.') {
      start = ++i;
      while (i < end && isSegmentChar(path[i])) i++;
      if (i === start) return fail(`expected a name after '.'`, start);
      segments.push(path.slice(start, i));
    } else if (c === '[') {
      i++;
      const q = path[i];
      if (q === "'" || q === '"') {
        const close = path.indexOf(q, i + 1);
        if (close < 0 || close >= end) return fail('unterminated quoted key', i);
        segments.push(path.slice(i + 1, close));
        i = close + 1;
      } else {
        start = i;
        while (i < end && /[0-9]/.test(path[i])) i++;
        if (i === start) return fail(`expected an index or a quoted key after '['`, start);
        segments.push(String(Number(path.slice(start, i))));
      }
      if (path[i] !== ']') return fail(`expected ']'`, i);
      i++;
    } else {
      return fail(`unexpected '${c}' in path`, i);
    }
  }
  return { ok: true, segments };
}

function fail(message: string, position: number): ParsedPath {
  return { ok: false, message, position };
}
