import { parsePath } from './path.parser';
import type { TemplateScope } from './template-scope';

/** Keys that never resolve, whatever the data holds: no route to prototypes. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Reads a path such as `steps.a.output.items[0].name` or `input.history.0` from the scope.
 * Follows own properties of objects and arrays only; `__proto__`, `constructor` and `prototype`
 * never resolve. A missing value or an invalid path gives `undefined` (never throws).
 */
export function resolvePath(scope: TemplateScope, path: string): unknown {
  const parsed = parsePath(path);
  return parsed.ok ? resolveSegments(scope, parsed.segments) : undefined;
}

/** Like `resolvePath` for an already parsed path. */
export function resolveSegments(scope: TemplateScope, segments: readonly string[]): unknown {
  let current: unknown = scope;
  for (const key of segments) {
    if (current === null || typeof current !== 'object') return undefined;
    if (FORBIDDEN_KEYS.has(key) || !Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
