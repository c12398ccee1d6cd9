const MAX_DEPTH = 200;

/**
 * Typed, deep equality: no coercion ('1' != 1), arrays element-wise, plain objects by own keys.
 * `undefined` (a missing path) equals `null`.
 */
export function valuesEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || depth > MAX_DEPTH) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => valuesEqual(v, b[i], depth + 1));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const rb = b as Record<string, unknown>;
  const ra = a as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && valuesEqual(ra[k], rb[k], depth + 1));
}

/** Ordering: numbers with numbers, strings with strings; any other pair is not ordered (false). */
export function valuesOrdered(op: '<' | '<=' | '>' | '>=', a: unknown, b: unknown): boolean {
  const comparable = (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
  if (!comparable) return false;
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
}

/** `needle in haystack`: element of an array, substring of a string, own key of an object. */
export function valueIn(needle: unknown, haystack: unknown): boolean {
  if (Array.isArray(haystack)) return haystack.some((v) => valuesEqual(needle, v));
  if (typeof haystack === 'string') return typeof needle === 'string' && haystack.includes(needle);
  if (haystack !== null && typeof haystack === 'object') {
    return typeof needle === 'string' && Object.prototype.hasOwnProperty.call(haystack, needle);
  }
  return false;
}
