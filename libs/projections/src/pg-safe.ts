/** Characters PostgreSQL refuses: NUL (text 22021, jsonb 22P05) and UTF-16 surrogates (only lone ones are refused, by jsonb). */
const SUSPECT = /[\u0000\ud800-\udfff]/;
const NUL = /\u0000/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with every NUL and lone surrogate replaced by U+FFFD; `s` itself when it has none (no allocation). */
export function pgText(s: string): string {
  if (!SUSPECT.test(s)) return s;
  return s.replace(NUL, '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * A value PostgreSQL text and jsonb columns accept: every string in it (object keys too, at any
 * depth of plain arrays and objects) passed through {@link pgText}. Log entries may carry NUL from
 * anywhere (tool and API outputs, agent text, templated messages), and one refused value would fail
 * the whole batch of a projection. Copy on write: returns `value` itself when nothing changes;
 * anything but strings, arrays and plain objects (numbers, Dates, null) is returned as is. Apply it
 * to a statement's parameters, and to a jsonb value before `JSON.stringify`.
 */
export function pgSafe<T>(value: T): T {
  if (typeof value === 'string') return pgText(value) as T;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const safe = pgSafe(v);
      if (safe !== v) (out ??= value.slice())[i] = safe;
    }
    return (out ?? value) as T;
  }
  if (value !== null && typeof value === 'object') {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const keys = Object.keys(value);
    let changed = false;
    const pairs = keys.map((k): [string, unknown] => {
      const v: unknown = (value as Record<string, unknown>)[k];
      const safeKey = pgText(k);
      const safe = pgSafe(v);
      if (safeKey !== k || safe !== v) changed = true;
      return [safeKey, safe];
    });
    return changed ? (Object.fromEntries(pairs) as T) : value;
  }
  return value;
}
