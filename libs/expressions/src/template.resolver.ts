import { resolveSegments } from './path.resolver';
import { scanTemplates } from './template.scanner';
import type { TemplateScope } from './template-scope';

/** Options of `resolveTemplates`. */
export interface ResolveTemplatesOptions {
  /** Templates whose root is listed (e.g. `['secrets']`) are left verbatim for a later stage. */
  readonly keepRoots?: readonly string[];
}

/** Values nested deeper than this are returned unchanged (guards against pathological input). */
const MAX_DEPTH = 100;

/**
 * Resolves `{{path}}` templates in every string of a value (deep over arrays and plain objects;
 * the input is never mutated). A string that is exactly one template yields the typed value
 * (`undefined` becomes `null`); templates inside longer strings are stringified (objects and arrays
 * as JSON, `null`/`undefined` as ""). Resolved values are data: they are never scanned again.
 */
export function resolveTemplates(value: unknown, scope: TemplateScope, opts: ResolveTemplatesOptions = {}): unknown {
  return resolveDeep(value, scope, opts.keepRoots ?? [], 0);
}

function resolveDeep(value: unknown, scope: TemplateScope, keep: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return resolveString(value, scope, keep);
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => resolveDeep(v, scope, keep, depth + 1));
  if (!isPlainObject(value)) return value;
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveDeep(v, scope, keep, depth + 1)]));
}

function resolveString(text: string, scope: TemplateScope, keep: readonly string[]): unknown {
  const { parts } = scanTemplates(text);
  if (!parts.some((p) => p.kind === 'template')) return text;
  if (parts.length === 1 && parts[0].kind === 'template' && parts[0].raw === text) {
    const part = parts[0];
    if (keep.includes(part.segments[0])) return text;
    return resolveSegments(scope, part.segments) ?? null;
  }
  let out = '';
  for (const part of parts) {
    if (part.kind === 'text') out += part.text;
    else if (keep.includes(part.segments[0])) out += part.raw;
    else out += stringifyValue(resolveSegments(scope, part.segments));
  }
  return out;
}

/** How a value reads inside a longer string: objects/arrays as JSON, null/undefined as "". */
export function stringifyValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') {
    try {
      return JSON.stringify(value) ?? '';
    } catch {
      return String(value);
    }
  }
  return String(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
